"""The evidence bundle of an order: a zip with its clip, photos, timeline and a signed manifest.

``manifest.json`` lists the SHA-256 of every other file and the head of the station's event hash chain;
``manifest.sig`` is the Ed25519 signature of the manifest's exact bytes by the station's key, whose public half
ships as ``station_key.pub.pem``. A bundle's own key proves nothing (a forger re-signs with theirs): a verifier
pins the station's key by its fingerprint (`key_fingerprint`, shown by `station evidence key`) and
`verify_bundle` checks the bundle against it. The key is created at first use under ``<data_dir>/keys`` and
never leaves the station.
"""

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from station.events import Envelope
from station.video.key_file import FINGERPRINT_FILE, KEY_FILE

_SIGNED = ("manifest.json", "manifest.sig", "station_key.pub.pem")  # the bundle's own files, beside the listed


def station_key(data_dir: Path) -> Ed25519PrivateKey:
    """The station's signing key, created (mode 0600) on first use."""
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    fingerprint_path = data_dir / FINGERPRINT_FILE
    if not fingerprint_path.exists():  # also for a key made before fingerprints were recorded
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fingerprint_path.write_text(key_fingerprint(public) + "\n", encoding="ascii")
    return key


def public_key_pem(data_dir: Path) -> bytes:
    """The public half of the station's key, PEM."""
    return (
        station_key(data_dir)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def build_evidence(
    data_dir: Path,
    *,
    order_id: str,
    station: str,
    files: dict[str, Path],
    blobs: dict[str, bytes] | None = None,
    recording_gaps: list[tuple[int, int]] | None = None,
    timeline: list[Envelope],
    chain_head: dict[str, Any],
    created_ms: int,
) -> bytes:
    """The zip (bytes) of ``files`` (name in the zip → path), ``blobs`` (name → bytes, e.g. the printed label's
    picture), the timeline and the signed manifest."""
    contents: dict[str, bytes] = {name: path.read_bytes() for name, path in files.items()}
    contents |= blobs or {}
    contents["timeline.json"] = json.dumps(timeline, ensure_ascii=False, indent=1).encode()
    manifest = {
        "order_id": order_id,
        "station": station,
        "created_ms": created_ms,
        "chain_head": chain_head,
        # Stretches of the order's clip window with no recording ([start_ms, end_ms] wall times): a clip cut short
        # says so here instead of passing for the whole packing.
        "recording_gaps": [list(gap) for gap in recording_gaps or []],
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(contents.items())},
        "signature": {"alg": "Ed25519", "file": "manifest.sig", "public_key": "station_key.pub.pem"},
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # video does not compress; keep it fast
        for name, data in contents.items():
            zf.writestr(name, data)
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("manifest.sig", station_key(data_dir).sign(manifest_bytes))
        zf.writestr("station_key.pub.pem", public_key_pem(data_dir))
    return buffer.getvalue()


def key_fingerprint(public_pem: bytes) -> str:
    """The fingerprint a verifier pins: ``sha256:`` and the hex SHA-256 of the raw 32-byte Ed25519 public key."""
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(slots=True)
class BundleReport:
    """What `verify_bundle` found: `problems` is empty for a bundle that holds."""

    order_id: str | None = None
    fingerprint: str | None = None
    pinned: bool = False
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed (with the key pinned, or only against its own key when not)."""
        return not self.problems


def verify_bundle(data: bytes, *, pinned_fingerprint: str | None = None) -> BundleReport:
    """Check an evidence bundle: a readable zip, nothing but the manifest's files and its own three, every
    file's SHA-256 as listed, the signature by the bundle's key — and that key the pinned one, when given."""
    report = BundleReport()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [info.filename for info in zf.infolist()]
            contents = {name: zf.read(name) for name in set(names)}
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        report.problems.append(f"not a readable zip: {err}")
        return report
    if len(set(names)) != len(names):
        report.problems.append("a file name appears twice in the zip")
    missing = [name for name in _SIGNED if name not in contents]
    if missing:
        report.problems.append(f"missing {', '.join(missing)}")
        return report
    try:
        manifest = json.loads(contents["manifest.json"])
        listed: dict[str, str] = dict(manifest["files"])
        report.order_id = str(manifest["order_id"])
        report.fingerprint = key_fingerprint(contents["station_key.pub.pem"])
        public = serialization.load_pem_public_key(contents["station_key.pub.pem"])
        assert isinstance(public, Ed25519PublicKey)
        public.verify(contents["manifest.sig"], contents["manifest.json"])
    except InvalidSignature:
        report.problems.append("the signature does not match the manifest")
    except (ValueError, KeyError, TypeError, AssertionError) as err:  # a key of another kind is a TypeError
        report.problems.append(f"unreadable manifest or key: {err}")
        return report
    report.files = sorted(listed)
    for name in sorted(set(contents) - set(listed) - set(_SIGNED)):
        report.problems.append(f"{name}: not listed in the manifest")
    for name, digest in sorted(listed.items()):
        if name not in contents:
            report.problems.append(f"{name}: listed but missing")
        elif hashlib.sha256(contents[name]).hexdigest() != digest:
            report.problems.append(f"{name}: SHA-256 differs from the manifest")
    if pinned_fingerprint is not None:
        report.pinned = True
        if report.fingerprint != pinned_fingerprint.strip().lower():
            report.problems.append(f"signed by {report.fingerprint}, not by the pinned key {pinned_fingerprint}")
    return report
