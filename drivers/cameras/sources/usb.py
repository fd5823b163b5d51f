"""USB/UVC cameras through OpenCV's V4L2 backend, with a grabber thread that keeps only the newest frame.

Why a grabber thread: a UVC camera delivers frames at its own pace into a small kernel queue; if nobody
dequeues them, the reader later gets stale pictures. The grabber reads continuously and keeps only the newest
frame, so :meth:`UsbCamera.read` always answers with the current picture and a slow reader loses frames
(visible as a ``Frame.seq`` jump) instead of falling further and further behind.

Why MJPG is set before the size: many UVC cameras offer 720p30 only as MJPG (raw YUYV is limited to about 10 fps
by USB 2.0 bandwidth at that size); asking for the size first makes the driver pick a YUYV mode and the later
format change can fail or silently drop the rate.

A camera that stops answering (unplugged, a USB reset) is released and reopened with exponential backoff,
for as long as the source is running; the device path should be a stable ``/dev/v4l/by-id/...`` link so that
the camera is found again after replugging.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from drivers.cameras.frames import Frame, wall_ms_now
from drivers.cameras.sources.base import SourceKind, SourceStatus

logger = logging.getLogger(__name__)


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` this driver uses (a fake can stand in for it in tests)."""

    def isOpened(self) -> bool:
        """True when the device was opened."""

    def set(self, prop_id: int, value: float) -> bool:
        """Set a capture property."""

    def get(self, prop_id: int) -> float:
        """Read a capture property."""

    def read(self) -> tuple[bool, Any]:
        """Grab and decode the next frame."""

    def release(self) -> None:
        """Close the device."""


def _open_v4l2(device: str | int) -> CaptureLike:
    capture: CaptureLike = cv2.VideoCapture(device, cv2.CAP_V4L2)
    return capture


@dataclass(frozen=True, slots=True)
class UsbSettings:
    """What to ask a UVC camera for, and how to recover from failures."""

    device: str | int
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    fourcc: str = "MJPG"
    reopen_min_s: float = 0.5
    reopen_max_s: float = 30.0
    read_fail_limit: int = 5


class UsbCamera:
    """A UVC camera read by a grabber thread; a :class:`~drivers.cameras.sources.base.FrameSource`."""

    def __init__(self, settings: UsbSettings, *, capture_factory: Callable[[str | int], CaptureLike] | None = None):
        """Make the source; the device is opened by the grabber thread that :meth:`start` starts."""
        self._settings = settings
        self._factory = capture_factory or _open_v4l2
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._newest: Frame | None = None
        self._last_read_seq = -1
        self._seq = -1
        self._connected = False
        self._reconnects = 0
        self._last_error: str | None = None
        self._actual = (0, 0, 0.0)

    @property
    def url(self) -> str:
        """``usb://`` and the device."""
        return f"usb://{self._settings.device}"

    @property
    def kind(self) -> SourceKind:
        """Always ``usb``."""
        return "usb"

    @property
    def delivers_packets(self) -> bool:
        """False: frames are decoded (MJPG) by OpenCV."""
        return False

    def start(self) -> None:
        """Start the grabber thread; it opens the device and keeps retrying while it is absent."""
        if self._thread is not None:
            return
        self._closed.clear()
        self._thread = threading.Thread(
            target=self._grab_loop, name=f"camera-grab-{self._settings.device}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the grabber and release the device."""
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=15.0)
            if thread.is_alive():
                logger.warning("camera %s: grabber did not stop within 15 s (driver stuck in read)", self.url)

    def status(self) -> SourceStatus:
        """Connection state and the mode the camera actually delivers."""
        width, height, fps = self._actual
        return SourceStatus(
            url=self.url,
            kind="usb",
            connected=self._connected,
            width=width,
            height=height,
            fps=fps,
            reconnects=self._reconnects,
            last_error=self._last_error,
        )

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame grabbed since the last call, waiting up to ``timeout_s`` for one."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._newest is None or self._newest.seq <= self._last_read_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed.is_set():
                    return None
                self._cond.wait(remaining)
            frame = self._newest
            self._last_read_seq = frame.seq
            return frame

    def _grab_loop(self) -> None:
        failures = 0
        while not self._closed.is_set():
            capture = self._open()
            if capture is None:
                delay = min(self._settings.reopen_max_s, self._settings.reopen_min_s * 2**failures)
                failures += 1
                logger.info("camera %s: not available, retrying in %.1f s", self.url, delay)
                self._closed.wait(delay)
                continue
            failures = 0
            try:
                self._grab_until_failure(capture)
            finally:
                self._connected = False
                capture.release()
            if not self._closed.is_set():
                self._reconnects += 1
                logger.warning("camera %s: stopped delivering frames, reopening", self.url)
                self._closed.wait(self._settings.reopen_min_s)

    def _open(self) -> CaptureLike | None:
        settings = self._settings
        try:
            capture = self._factory(settings.device)
        except Exception as err:  # OpenCV raises cv2.error and others for odd devices
            self._last_error = f"open failed: {err}"
            return None
        if not capture.isOpened():
            capture.release()
            self._last_error = "device could not be opened"
            return None
        # The order matters: pixel format first, then the size, then the rate (see the module docstring).
        capture.set(cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter.fourcc(*settings.fourcc)))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(settings.width))
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(settings.height))
        capture.set(cv2.CAP_PROP_FPS, float(settings.fps))
        # One driver buffer: a frame that waited in the queue would carry a wrong capture time.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1.0)
        self._actual = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(capture.get(cv2.CAP_PROP_FPS)),
        )
        if self._actual[:2] != (settings.width, settings.height):
            logger.warning(
                "camera %s: asked for %dx%d, delivers %dx%d",
                self.url,
                settings.width,
                settings.height,
                self._actual[0],
                self._actual[1],
            )
        logger.info("camera %s opened: %dx%d @ %.1f fps", self.url, *self._actual)
        return capture

    def _grab_until_failure(self, capture: CaptureLike) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                ok, image = capture.read()
            except Exception as err:  # a driver error mid-stream means the same as a failed read
                ok, image = False, None
                self._last_error = f"read failed: {err}"
            if not ok or not isinstance(image, np.ndarray) or image.ndim != 3:
                failures += 1
                if failures >= self._settings.read_fail_limit:
                    self._last_error = self._last_error or "no frames from the device"
                    return
                continue
            failures = 0
            self._connected = True
            self._last_error = None
            with self._cond:
                self._seq += 1
                self._newest = Frame(image=image, wall_ms=wall_ms_now(), mono_s=time.monotonic(), seq=self._seq)
                self._cond.notify_all()
