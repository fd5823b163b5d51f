"""Packing photos: a JPEG of the newest frame with the overlay burned in, and its SHA-256.

The photo is the evidence the ``packed`` guard asks for when a camera is configured, so it refuses to be
taken from a stale or frozen picture (:class:`NoFrameError`) rather than store a misleading one.
"""

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from drivers.cameras.errors import CameraError
from drivers.cameras.files import write_atomically
from drivers.cameras.frames import Frame
from drivers.cameras.overlay import Overlay, OverlayPainter


@dataclass(frozen=True, kw_only=True, slots=True)
class PhotoInfo:
    """A stored photo: where, its SHA-256, and the wall time of the frame it shows."""

    path: Path
    sha256: str
    wall_ms: int
    width: int
    height: int
    bytes: int

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the path as a string)."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def write_photo(
    frame: Frame, path: Path, overlay: Overlay, *, quality: int = 90, font_path: str | None = None
) -> PhotoInfo:
    """Burn ``overlay`` into a copy of ``frame`` and store it as a JPEG at ``path`` (atomically)."""
    image = frame.image.copy()
    OverlayPainter(frame.width, frame.height, font_path=font_path).paint(image, overlay, frame.wall_ms)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CameraError(f"photo {path}: JPEG encoding failed")
    data = encoded.tobytes()
    write_atomically(path, data)
    return PhotoInfo(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        wall_ms=frame.wall_ms,
        width=frame.width,
        height=frame.height,
        bytes=len(data),
    )
