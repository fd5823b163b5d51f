"""The evidence bundle of an order: a zip with its clip, photos, timeline and a signed manifest.

``manifest.json`` lists the SHA-256 of every other file and the head of the station's event hash chain;
``manifest.sig`` is the Ed25519 signature of the manifest's exact bytes by the station's key, whose public half
ships as ``station_key.pub.pem`` (and is what a verifier should pin). The key is created at first use under
``<data_dir>/keys`` and never leaves the station.
"""

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.events import Envelope

KEY_FILE = "keys/evidence_ed25519.pem"


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
    timeline: list[Envelope],
    chain_head: dict[str, Any],
    created_ms: int,
) -> bytes:
    """The zip (bytes) of ``files`` (name in the zip → path), the timeline and the signed manifest."""
    contents: dict[str, bytes] = {name: path.read_bytes() for name, path in files.items()}
    contents["timeline.json"] = json.dumps(timeline, ensure_ascii=False, indent=1).encode()
    manifest = {
        "order_id": order_id,
        "station": station,
        "created_ms": created_ms,
        "chain_head": chain_head,
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
