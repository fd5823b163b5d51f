"""The simulated camera (``sim://``): a moving test pattern with a running clock, and the faults real cameras have.

The picture of frame ``n`` depends on ``n`` alone (colour bars scrolled by ``n`` pixels steps, and a clock
showing ``n / fps`` as ``HH:MM:SS.mmm`` with the frame number), so two runs give the same pictures and a test
can tell which frame it is looking at. Frames are produced on the camera's own schedule: a reader that comes
late gets the newest frame, and the frames in between are lost, as with a real camera whose grabber keeps only
the newest frame (``Frame.seq`` jumps).

Fault knobs (URL query parameters of ``sim://NAME?...``, or keyword arguments of :func:`open_camera`):

- ``frozen_after_s``: from this many seconds after start, every frame shows the same picture (a hung ISP or
  driver repeating its buffer): frames keep coming, the picture stops changing;
- ``dropout_after_s``: from this many seconds after start, no frame comes any more (unplugged, dead);
- ``slow_fps``: frames come at this rate instead of ``fps`` (a starved USB bus, low light exposure);
- ``width``, ``height``, ``fps``: the picture size and nominal rate.
"""

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.cameras.frames import Frame, Image, wall_ms_now
from drivers.cameras.sources.base import SourceKind, SourceStatus

logger = logging.getLogger(__name__)

_BARS_BGR = (
    (255, 255, 255),
    (0, 255, 255),
    (255, 255, 0),
    (0, 255, 0),
    (255, 0, 255),
    (0, 0, 255),
    (255, 0, 0),
    (16, 16, 16),
)


@dataclass(frozen=True, slots=True)
class SimKnobs:
    """Picture size, rate and fault knobs of the simulated camera (see the module docstring)."""

    width: int = 320
    height: int = 240
    fps: float = 15.0
    frozen_after_s: float | None = None
    dropout_after_s: float | None = None
    slow_fps: float | None = None
    scroll_px: int = 4


@functools.lru_cache(maxsize=4)
def _base_pattern(width: int, height: int) -> Image:
    """Colour bars over a grey ramp; cached because it is the same for every frame (never written to)."""
    bar_w = max(1, math.ceil(width / len(_BARS_BGR)))
    base = np.empty((height, width, 3), dtype=np.uint8)
    for i, colour in enumerate(_BARS_BGR):
        base[:, i * bar_w : (i + 1) * bar_w] = colour
    # A horizontal grey ramp in the lower third, so that scrolling shows as motion everywhere.
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    base[height * 2 // 3 :, :, :] = ramp[None, :, None]
    base.flags.writeable = False
    return base


def render_pattern(knobs: SimKnobs, index: int, name: str = "sim") -> Image:
    """The picture the simulator shows as frame ``index`` (a fresh array; same index, same picture)."""
    width, height = knobs.width, knobs.height
    base = _base_pattern(width, height)
    image = np.roll(base, (index * knobs.scroll_px) % width, axis=1)
    elapsed_ms = round(index * 1000 / knobs.fps)
    hours, rest = divmod(elapsed_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{name} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d} #{index}"
    scale = max(0.35, height / 600)
    thickness = max(1, round(height / 360))
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    y = height - baseline - 4
    cv2.rectangle(image, (0, y - text_h - 4), (min(width, text_w + 8), height), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image


class SimCamera:
    """A deterministic simulated camera; a :class:`~drivers.cameras.sources.base.FrameSource`."""

    def __init__(self, name: str, knobs: SimKnobs, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Make the camera; nothing runs before :meth:`start`. ``clock`` is injectable for tests."""
        self._name = name or "sim"
        self._knobs = knobs
        self._clock = clock
        self._rate = knobs.slow_fps if knobs.slow_fps else knobs.fps
        self._closed = threading.Event()
        self._t0: float | None = None
        self._next_index = 0
        self._frozen_image: Image | None = None

    @property
    def url(self) -> str:
        """``sim://NAME``."""
        return f"sim://{self._name}"

    @property
    def kind(self) -> SourceKind:
        """Always ``sim``."""
        return "sim"

    @property
    def delivers_packets(self) -> bool:
        """False: the simulator delivers decoded frames."""
        return False

    @property
    def knobs(self) -> SimKnobs:
        """The picture size, rate and fault knobs."""
        return self._knobs

    def start(self) -> None:
        """Start the camera's clock: frame 0 is due now."""
        self._closed.clear()
        self._t0 = self._clock()
        self._next_index = 0
        logger.info("camera %s started (%dx%d @ %s fps)", self.url, self._knobs.width, self._knobs.height, self._rate)

    def close(self) -> None:
        """Stop; a reader blocked in :meth:`read` returns at once."""
        self._closed.set()
        self._t0 = None

    def status(self) -> SourceStatus:
        """Connected from start until closed or until the drop-out knob fires."""
        t0 = self._t0
        connected = t0 is not None and not self._dropped_out(self._clock() - t0)
        return SourceStatus(
            url=self.url,
            kind="sim",
            connected=connected,
            width=self._knobs.width,
            height=self._knobs.height,
            fps=self._rate,
            reconnects=0,
            last_error=None if connected or t0 is None else "simulated drop-out",
        )

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame due and not yet read, waiting up to ``timeout_s`` for the next one."""
        t0 = self._t0
        if t0 is None:
            self._closed.wait(timeout_s)
            return None
        now = self._clock()
        index = self._next_index
        late_index = int((now - t0) * self._rate)
        # A late reader gets the newest frame; the ones it missed are gone, like with a real camera.
        index = max(index, late_index)
        due = t0 + index / self._rate
        if self._dropped_out(index / self._rate):
            self._closed.wait(timeout_s)
            return None
        if due > now:
            if due - now > timeout_s:
                self._closed.wait(timeout_s)
                return None
            if self._closed.wait(due - now):
                return None
        self._next_index = index + 1
        return Frame(image=self._picture(index), wall_ms=wall_ms_now(), mono_s=self._clock(), seq=index)

    def _dropped_out(self, elapsed_s: float) -> bool:
        after = self._knobs.dropout_after_s
        return after is not None and elapsed_s >= after

    def _picture(self, index: int) -> Image:
        after = self._knobs.frozen_after_s
        if after is not None and index / self._rate >= after:
            if self._frozen_image is None:
                self._frozen_image = render_pattern(self._knobs, index, self._name)
            # Each frame is an array its reader owns, even when the picture repeats.
            return self._frozen_image.copy()
        return render_pattern(self._knobs, index, self._name)
