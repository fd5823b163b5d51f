"""`station evidence key` and `station evidence verify`: the station's signing key, and a bundle checked
against it (`station.video.evidence`)."""

import argparse
import sys
from pathlib import Path

from station.config import Settings
from station.video.evidence import key_fingerprint, public_key_pem, verify_bundle


def cmd_evidence_key(settings: Settings, _: argparse.Namespace) -> int:
    """Print the fingerprint of the station's evidence key (created on first use) and its public half."""
    pem = public_key_pem(settings.station.data_dir)
    print(key_fingerprint(pem))
    print(pem.decode().rstrip())
    return 0


def cmd_evidence_verify(_: Settings, args: argparse.Namespace) -> int:
    """Check a bundle: every hash, no extra file, the signature — by the pinned key when `--key` is given."""
    path = Path(args.bundle)
    try:
        data = path.read_bytes()
    except OSError as err:
        print(f"{path}: cannot read it: {err.strerror}", file=sys.stderr)
        return 1
    report = verify_bundle(data, pinned_fingerprint=args.key)
    for problem in report.problems:
        print(f"{path}: {problem}")
    if not report.ok:
        return 1
    signer = f"the pinned key {report.fingerprint}" if report.pinned else f"its own key {report.fingerprint}"
    print(f"{path}: order {report.order_id}: {len(report.files)} files as signed by {signer}")
    if not report.pinned:
        print("  not pinned: anyone can sign with a key of their own; pass --key with the station's fingerprint")
    return 0


def add_evidence_verbs(
    verbs: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    """Register `evidence key` and `evidence verify` under the `station` command."""
    evidence = verbs.add_parser("evidence", help="evidence bundles").add_subparsers(
        dest="evidence_verb", required=True, metavar="ACTION"
    )
    key = evidence.add_parser(
        "key", help="the station's evidence key fingerprint", description=cmd_evidence_key.__doc__, parents=[common]
    )
    key.set_defaults(func=cmd_evidence_key)
    verify = evidence.add_parser(
        "verify", help="check an evidence bundle", description=cmd_evidence_verify.__doc__, parents=[common]
    )
    verify.set_defaults(func=cmd_evidence_verify)
    verify.add_argument("bundle", help="the evidence zip, as downloaded from the order page")
    verify.add_argument(
        "--key", metavar="FINGERPRINT", help="the station's key (sha256:…), from `station evidence key`"
    )
