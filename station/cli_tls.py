"""`station tls self-signed`: a private key and a self-signed certificate for a first install, written into
`DATA/tls/`, with the fingerprint to compare on each device that is told to trust it and the lines for
`station.toml` (`[api] tls_cert`, `tls_key`; served by `station.api.tls`)."""

import argparse
import ipaddress
import os
import re
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from station.api.tls import fingerprint
from station.config import Settings

TLS_DIR = "tls"
CERT_NAME = "station.crt"
KEY_NAME = "station.key"
DEFAULT_DAYS = 825  # Apple devices refuse a TLS server certificate valid for longer
MAX_DAYS = 3650
# RSA rather than ECDSA: older handhelds and embedded HTTP clients at a bench may know no other key type.
RSA_BITS = 2048
_DNS_NAME = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
EXIT_EXISTS = 1
EXIT_BAD_USAGE = 2


def subject_names(hosts: list[str], *, defaults: bool = True) -> list[x509.GeneralName]:
    """The certificate's SubjectAltName entries: `hosts` (names or IP addresses) and, with `defaults`, this
    machine's host name, `localhost` and 127.0.0.1; each once, in that order. Raises ValueError naming a bad one."""
    names = [_general_name(raw) for raw in hosts]
    if defaults:
        for raw in (socket.gethostname(), "localhost", "127.0.0.1"):
            try:
                names.append(_general_name(raw))
            except ValueError:  # a host name no certificate can hold (`bench_01`): the others still serve
                continue
    return list(dict.fromkeys(names))


def _general_name(raw: str) -> x509.GeneralName:
    text = raw.strip().rstrip(".")
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        ascii_name = text.encode("idna").decode("ascii").lower()  # a certificate holds the A-label (xn--…)
    except UnicodeError:
        ascii_name = ""
    # All-digit last label: a mistyped IP address (999.1.1.1), which no resolver would take as a name.
    if not _DNS_NAME.match(ascii_name) or len(ascii_name) > 253 or ascii_name.rpartition(".")[2].isdigit():
        raise ValueError(f"--host {raw!r}: not an IP address nor a host name")
    return x509.DNSName(ascii_name)


def self_signed(
    names: list[x509.GeneralName], common_name: str, days: int, now: datetime | None = None
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new key and a certificate for `names` signed by that key, valid from now (less a little clock skew)
    for `days`: a server certificate (not a CA), which the devices trust as it is."""
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Packing Station"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),  # X.509 allows 64 characters
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a device whose clock is a little behind still accepts it
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _write(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    """Write `path` whole or not at all (a temporary file renamed over it), with `mode` whatever the umask."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # open's mode applies only to a new file, and through the umask
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(data)
            out.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _owner_for(data_dir: Path) -> tuple[int, int] | None:
    """Run as root on a data directory the station's user owns (`sudo station tls self-signed`): give the files
    to that user, or the station could not read its own key."""
    if os.geteuid() != 0:
        return None
    info = data_dir.stat()
    return None if info.st_uid == 0 else (info.st_uid, info.st_gid)


def _toml_path(path: Path) -> str:
    text = str(path)
    return f"'{text}'" if "'" not in text else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmd_tls_self_signed(settings: Settings, args: argparse.Namespace) -> int:
    """Write a key (0600) and a self-signed certificate into DATA/tls; print its fingerprint and the config."""
    try:
        names = subject_names(args.names or [], defaults=not args.no_defaults)
    except ValueError as err:
        print(f"station: {err}", file=sys.stderr)
        return EXIT_BAD_USAGE
    if not names:
        print("station: no name for the certificate: give --host NAME", file=sys.stderr)
        return EXIT_BAD_USAGE
    if not 1 <= args.days <= MAX_DAYS:
        print(f"station: --days {args.days}: out of range (use 1-{MAX_DAYS})", file=sys.stderr)
        return EXIT_BAD_USAGE
    data_dir = settings.station.data_dir.absolute()  # the config lines must work from any working directory
    directory = data_dir / TLS_DIR
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if not args.force:
        for path in (cert_path, key_path):
            if path.exists():
                print(
                    f"station: {path} already exists; --force replaces it (and every device that trusts the old "
                    "certificate must then be given the new one)",
                    file=sys.stderr,
                )
                return EXIT_EXISTS
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = _owner_for(data_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    if owner is not None:
        os.chown(directory, *owner)
    station = settings.station
    key, cert = self_signed(names, f"Packing Station {station.site}/{station.station_id}", args.days)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(key_path, key_pem, 0o600, owner)  # the key first: a certificate is never left without its key
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644, owner)
    shown = ", ".join(str(name.value) for name in names)
    print(f"wrote {key_path} (private key, 0600)")
    print(f"wrote {cert_path} (self-signed, valid until {cert.not_valid_after_utc:%Y-%m-%d})")
    print(f"names: {shown}")
    print(f"SHA-256 fingerprint: {fingerprint(cert)}")
    print("Add to station.toml, then restart the station:")
    print("[api]")
    print(f"tls_cert = {_toml_path(cert_path)}")
    print(f"tls_key = {_toml_path(key_path)}")
    print(f"Install {cert_path.name} as trusted on each PDA and bench screen; compare the fingerprint there.")
    return 0


def add_tls_verbs(
    verbs: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    """Register `tls self-signed` under the `station` command."""
    tls = verbs.add_parser("tls", help="HTTPS for the API").add_subparsers(
        dest="tls_verb", required=True, metavar="ACTION"
    )
    self_signed_verb = tls.add_parser(
        "self-signed",
        help="make a key and a self-signed certificate in DATA/tls",
        description=cmd_tls_self_signed.__doc__,
        parents=[common],
    )
    self_signed_verb.set_defaults(func=cmd_tls_self_signed)
    self_signed_verb.add_argument(
        "--host",
        action="append",
        dest="names",  # not `host`: that is `run`'s listen address, which `station.cli.flag_overrides` reads
        metavar="NAME",
        help="a host name or IP address the devices use to reach the station (repeatable), e.g. 192.168.1.20",
    )
    self_signed_verb.add_argument(
        "--no-defaults",
        action="store_true",
        help="only the --host names (default: also this machine's host name, localhost and 127.0.0.1)",
    )
    self_signed_verb.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"validity in days, 1-{MAX_DAYS} (default {DEFAULT_DAYS}: Apple devices refuse longer)",
    )
    self_signed_verb.add_argument(
        "--force", action="store_true", help=f"replace an existing {CERT_NAME} and {KEY_NAME}"
    )
