"""Where the station's evidence key lives, and its fingerprint read without the signing library.

The fingerprint (`sha256:` + hex of the raw Ed25519 public key, `station.video.evidence.key_fingerprint`) is
written beside the key when the key is made, so that the station can announce it to the hub in its birth
message at every start without loading `cryptography` (~10 MB of RSS) until a bundle is asked for.
"""

from pathlib import Path

KEY_FILE = "keys/evidence_ed25519.pem"
FINGERPRINT_FILE = "keys/evidence_ed25519.fingerprint"


def recorded_fingerprint(data_dir: Path) -> str | None:
    """The fingerprint of the station's evidence key, if the key exists (None before the first bundle or
    `station evidence key`)."""
    try:
        text = (data_dir / FINGERPRINT_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text.startswith("sha256:") and len(text) == 71 else None
