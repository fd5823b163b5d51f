"""The text burned into recorded frames and photos: time, bench, packer and order number.

Layout: a band across the top of the picture, darkened to half brightness so that white text reads on any
scene, with the frame's wall time (local time to the second, and the UTC offset) on the first line and
``BENCH ... PACKER ... ORDER ...`` on the second.

Cost matters at 720p30 on a Pi, so the second line, which changes only when the station calls
``set_overlay``, is rendered once into a small patch and a mask; each frame then only darkens the band, copies
the patch through the mask and draws the time string (about 25 characters) with OpenCV.

Chinese text (a packer's name, say): OpenCV's Hershey fonts have no CJK glyphs. When the label is not plain
ASCII, it is drawn with Pillow and a CJK font if both are there (Debian ``fonts-noto-cjk`` or
``fonts-wqy-microhei``, or ``font_path``); otherwise each character that has no ASCII form is shown as ``?``.
Order numbers and badge codes are ASCII, so the evidence that matters is always legible.
"""

import functools
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from drivers.cameras.frames import Frame, Image

logger = logging.getLogger(__name__)

T = TypeVar("T")

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@dataclass(frozen=True, slots=True)
class Overlay:
    """What the station wants shown on the picture besides the time; None fields are left out."""

    order_id: str | None = None
    packer: str | None = None
    bench: str | None = None

    def label(self) -> str:
        """The second overlay line, e.g. ``BENCH B3  PACKER OP-17  ORDER SO20260205-8821``."""
        parts = [
            f"{title} {value}"
            for title, value in (("BENCH", self.bench), ("PACKER", self.packer), ("ORDER", self.order_id))
            if value
        ]
        return "  ".join(parts)


def transliterate(text: str) -> str:
    """``text`` in ASCII: accents dropped (é → e), anything else without an ASCII form shown as ``?``."""
    decomposed = unicodedata.normalize("NFKD", text)
    out = []
    for char in decomposed:
        if char.isascii():
            out.append(char)
        elif not unicodedata.combining(char):
            out.append("?")
    return "".join(out)


@functools.cache
def find_cjk_font(extra: str | None = None) -> str | None:
    """The first CJK-capable font file found (``extra`` first), or None."""
    for candidate in (extra, *_CJK_FONTS):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def format_wall_time(wall_ms: int) -> str:
    """Local time to the second with UTC offset, e.g. ``2026-02-05 10:03:12 +0800``.

    Whole seconds, as CCTV shows it: a digit that changes every frame would make the encoder re-code the text
    in every frame (on flat scenes that nearly doubles the bit rate); exact times are in the clip's markers.
    """
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(wall_ms // 1000))


def warm_up_text() -> None:
    """Draw text once on a tiny picture: OpenCV builds its font tables on the first ``putText`` (about 50 ms on
    an x86 core, more on a Pi), which the recorder pays before the camera starts rather than on a frame's time."""
    cv2.putText(np.zeros((16, 16, 3), dtype=np.uint8), "0", (0, 12), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)


class OverlayPainter:
    """Burns an :class:`Overlay` and the frame time into pictures of one size (not thread-safe)."""

    def __init__(self, width: int, height: int, *, font_path: str | None = None, cjk: bool = True) -> None:
        """Lay the band out for ``width`` x ``height``; ``font_path`` is a CJK font to prefer.

        ``cjk=False`` never uses Pillow: non-ASCII characters always show as ``?``.
        """
        self._cjk = cjk
        self._width = width
        self._height = height
        self._font_path = font_path
        self._scale = max(0.35, height / 720 * 0.8)
        self._thickness = max(1, round(height / 480))
        (_, text_h), baseline = cv2.getTextSize("Ag0:", _FONT, self._scale, self._thickness)
        self._pad = max(2, text_h // 3)
        self._line_h = text_h + baseline + self._pad
        self._baseline = baseline
        self._label_text: str | None = None
        self._label_patch: Image | None = None
        self._label_mask: npt.NDArray[np.bool_] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) this painter is laid out for."""
        return self._width, self._height

    @property
    def band_rows(self) -> int:
        """How many rows from the top the overlay touches (to save and restore them around encoding)."""
        return min(self._height, 2 * self._line_h + self._pad)

    def paint(self, image: Image, overlay: Overlay, wall_ms: int) -> None:
        """Burn ``overlay`` and ``wall_ms`` into ``image`` (BGR, this painter's size) in place."""
        band = image[: self.band_rows]
        # Half brightness keeps the scene visible under the text and costs one shift per byte.
        np.right_shift(band, 1, out=band)
        stamp = format_wall_time(wall_ms)
        y = self._pad + self._line_h - self._baseline - self._pad
        cv2.putText(image, stamp, (self._pad, y), _FONT, self._scale, (255, 255, 255), self._thickness, cv2.LINE_AA)
        label = overlay.label()
        if not label:
            return
        if label != self._label_text:
            self._render_label(label)
        assert self._label_patch is not None
        assert self._label_mask is not None
        top = self._pad + self._line_h
        rows = min(self._label_patch.shape[0], self._height - top)
        if rows <= 0:
            return
        target = image[top : top + rows, : self._label_patch.shape[1]]
        np.copyto(target, self._label_patch[:rows], where=self._label_mask[:rows, :, None])

    def _render_label(self, label: str) -> None:
        self._label_text = label
        patch = None
        if not label.isascii():
            patch = self._render_with_pillow(label) if self._cjk else None
            if patch is None:
                label_ascii = transliterate(label)
                logger.debug("overlay: no CJK font, showing %r as %r", label, label_ascii)
                label = label_ascii
        if patch is None:
            patch = self._render_with_opencv(label)
        self._label_patch = patch
        self._label_mask = patch.max(axis=2) > 0

    def _render_with_opencv(self, label: str) -> Image:
        patch = np.zeros((self._line_h, self._width, 3), dtype=np.uint8)
        text = label
        # Too long for the picture: cut at the end, where the least specific part (the order's tail) is.
        while text and cv2.getTextSize(text, _FONT, self._scale, self._thickness)[0][0] > self._width - 2 * self._pad:
            text = text[:-1]
        y = self._line_h - self._baseline - self._pad
        cv2.putText(patch, text, (self._pad, y), _FONT, self._scale, (255, 255, 255), self._thickness, cv2.LINE_AA)
        return patch

    def _render_with_pillow(self, label: str) -> Image | None:
        font_file = find_cjk_font(self._font_path)
        if font_file is None:
            return None
        try:
            from PIL import Image as PilImage  # noqa: PLC0415 - optional: only needed for non-ASCII labels
            from PIL import ImageDraw, ImageFont  # noqa: PLC0415
        except ImportError:
            return None
        size_px = max(8, self._line_h - self._pad)
        font = ImageFont.truetype(font_file, size_px)
        canvas = PilImage.new("RGB", (self._width, self._line_h))
        ImageDraw.Draw(canvas).text((self._pad, 0), label, font=font, fill=(255, 255, 255))
        return np.asarray(canvas, dtype=np.uint8)[:, :, ::-1].copy()


class OverlayBurner:
    """Burns the overlay into a frame for just as long as it is encoded, then restores the clean pixels.

    The newest frame is shared with photos and the live view, which want it without this overlay; ``lock``
    (the one guarding that frame's pixels) is held from burn-in to restore. Not thread-safe otherwise.
    """

    def __init__(self, lock: threading.Lock, *, font_path: str | None = None) -> None:
        """Burn with a painter using ``font_path``, under ``lock``."""
        self._lock = lock
        self._font_path = font_path
        self._painter: OverlayPainter | None = None
        self._band_saved: Image = np.empty((0, 0, 3), dtype=np.uint8)  # the overlay band's clean pixels

    def encode_burned(self, frame: Frame, overlay: Overlay, encode: Callable[[Image], T]) -> T:
        """``encode(frame.image)`` with ``overlay`` and the frame's time burned in; the frame is clean again after."""
        image = frame.image
        painter = self._painter
        if painter is None or painter.size != (frame.width, frame.height):
            painter = self._painter = OverlayPainter(frame.width, frame.height, font_path=self._font_path)
            self._band_saved = np.empty_like(image[: painter.band_rows])
        rows = painter.band_rows
        saved = self._band_saved
        with self._lock:
            # Burn in, copy out, restore: the newest frame stays clean for photos with their own overlay.
            np.copyto(saved, image[:rows])
            painter.paint(image, overlay, frame.wall_ms)
            encoded = encode(image)
            np.copyto(image[:rows], saved)
        return encoded
