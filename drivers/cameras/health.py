"""The camera's health: what the station turns into alerts, and what ``/health`` and ``station doctor`` show.

Alert-worthy conditions (:class:`CameraAlert`), each decided from thresholds in :class:`HealthThresholds`:

- ``no_frames``: no frame for ``no_frames_after_s`` (unplugged, dead, network down);
- ``frozen``: frames come but the picture has not changed for ``frozen_after_s`` (a hung driver or camera
  repeating its last buffer). Compared cheaply: a 160x90 grey thumbnail of a frame every ``freeze_sample_s``
  against the previous one; a live camera's sensor noise alone keeps the mean difference above
  ``freeze_diff``, a repeated buffer gives exactly zero;
- ``encoder_behind``: more than ``behind_drop_ratio`` of the frames the camera produced in the last
  ``behind_window_s`` were lost because encoding did not keep up;
- ``storage_full``: the RAM directory or the storage hit its free-space floor: recording is paused;
- ``recorder_failed``: the recorder thread died of an unexpected error (a bug: see the log).

A frozen or dead camera blocks ``packed`` (docs/architecture.md, "Devices"); that policy is the station's,
this only reports. :class:`RecorderCounters` and :class:`AlertWatch` are the recorder's side of it: what it has
done so far, and the ``on_alert`` call when the set of alerts changes.
"""

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from drivers.cameras.frames import Image
from drivers.cameras.sources.base import SourceStatus
from drivers.urls import redact_text, redact_url

logger = logging.getLogger(__name__)

_THUMB_SIZE = (160, 90)
_HEALTH_EVERY_S = 0.25


class CameraAlert(enum.StrEnum):
    """A condition a supervisor should hear about."""

    NO_FRAMES = "no_frames"
    FROZEN = "frozen"
    ENCODER_BEHIND = "encoder_behind"
    STORAGE_FULL = "storage_full"
    RECORDER_FAILED = "recorder_failed"


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When a condition becomes an alert (see the module docstring)."""

    no_frames_after_s: float = 5.0
    frozen_after_s: float = 10.0
    freeze_diff: float = 0.05
    freeze_sample_s: float = 0.5
    behind_window_s: float = 10.0
    behind_drop_ratio: float = 0.05


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """A snapshot of a recorder and its camera. ``alerts`` empty means all is well."""

    alerts: frozenset[CameraAlert]
    running: bool
    recording: bool
    source: SourceStatus
    encoder: str | None
    latest_frame_age_s: float | None
    frozen_for_s: float
    fps: float
    frames_captured: int
    frames_encoded: int
    frames_dropped: int
    segments_stored: int
    segments_lost: int
    bytes_stored: int
    pending_segments: int
    storage_full_reason: str | None
    last_error: str | None

    @property
    def ok(self) -> bool:
        """True when no alert is raised."""
        return not self.alerts

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict; ``alerts`` as a sorted list of codes. URLs in it, even quoted inside an error
        message, are redacted: this is what ``/health`` shows to any bench."""
        return {
            "ok": self.ok,
            "alerts": sorted(alert.value for alert in self.alerts),
            "running": self.running,
            "recording": self.recording,
            "source": {
                "url": redact_url(self.source.url),
                "kind": self.source.kind,
                "connected": self.source.connected,
                "width": self.source.width,
                "height": self.source.height,
                "fps": self.source.fps,
                "reconnects": self.source.reconnects,
                "last_error": _redacted(self.source.last_error),
            },
            "encoder": self.encoder,
            "latest_frame_age_s": None if self.latest_frame_age_s is None else round(self.latest_frame_age_s, 3),
            "frozen_for_s": round(self.frozen_for_s, 3),
            "fps": round(self.fps, 2),
            "frames_captured": self.frames_captured,
            "frames_encoded": self.frames_encoded,
            "frames_dropped": self.frames_dropped,
            "segments_stored": self.segments_stored,
            "segments_lost": self.segments_lost,
            "bytes_stored": self.bytes_stored,
            "pending_segments": self.pending_segments,
            "storage_full_reason": self.storage_full_reason,
            "last_error": _redacted(self.last_error),
        }


def _redacted(message: str | None) -> str | None:
    return None if message is None else redact_text(message)


def thumbnail(image: Image) -> npt.NDArray[np.float32]:
    """A small grey version of ``image`` for cheap comparisons."""
    small = cv2.resize(image, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class FreezeDetector:
    """Tracks since when the picture has not changed (not thread-safe)."""

    def __init__(self, sample_s: float, diff_threshold: float) -> None:
        """Compare a thumbnail every ``sample_s``; a mean difference at or below ``diff_threshold`` is "same"."""
        self._sample_s = sample_s
        self._threshold = diff_threshold
        self._previous: npt.NDArray[np.float32] | None = None
        self._last_sample_s: float | None = None
        self._changed_at_s: float | None = None

    def update(self, image: Image, mono_s: float) -> None:
        """Look at a new frame (cheap: most calls return at once)."""
        if self._last_sample_s is not None and mono_s - self._last_sample_s < self._sample_s:
            return
        self._last_sample_s = mono_s
        thumb = thumbnail(image)
        previous = self._previous
        changed = (
            previous is None
            or previous.shape != thumb.shape
            or float(np.mean(np.abs(thumb - previous))) > self._threshold
        )
        if changed:
            self._changed_at_s = mono_s
        self._previous = thumb

    def frozen_for_s(self) -> float:
        """How long the picture had not changed as of the last sample (0 while it changes or before any)."""
        if self._changed_at_s is None or self._last_sample_s is None:
            return 0.0
        return self._last_sample_s - self._changed_at_s


class FrameMeter:
    """Frames received and lost over a sliding window, for the measured rate and the ``encoder_behind`` test."""

    def __init__(self, window_s: float) -> None:
        """Keep ``window_s`` of history."""
        self._window_s = window_s
        self._events: deque[tuple[float, int]] = deque()  # (mono_s, frames lost just before this one)

    def add(self, mono_s: float, lost_before: int) -> None:
        """One frame received at ``mono_s``, after ``lost_before`` frames that were never read."""
        self._events.append((mono_s, lost_before))
        self._trim(mono_s)

    def _trim(self, now_s: float) -> None:
        while self._events and now_s - self._events[0][0] > self._window_s:
            self._events.popleft()

    def rates(self, now_s: float) -> tuple[float, float]:
        """(frames received per second, share of produced frames lost) over the window."""
        self._trim(now_s)
        if len(self._events) < 2:
            return 0.0, 0.0
        received = len(self._events)
        lost = sum(n for _, n in self._events)
        span = self._events[-1][0] - self._events[0][0]
        fps = (received - 1) / span if span > 0 else 0.0
        return fps, lost / (received + lost)


@dataclass(eq=False)
class RecorderCounters:
    """What a recorder has done so far, and its last error: written by its threads, read by its health snapshot.

    ``pending`` and ``segments_lost`` are written by both the recorder and the storage thread, so they change
    under a lock; every other field has one writer.
    """

    frames_captured: int = 0
    frames_recorded: int = 0
    frames_dropped: int = 0
    segments_stored: int = 0
    segments_lost: int = 0
    bytes_stored: int = 0
    pending: int = 0
    last_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_lost(self) -> None:
        """One segment could not be stored."""
        with self._lock:
            self.segments_lost += 1

    def segment_queued(self) -> None:
        """One closed segment waits for the storage thread."""
        with self._lock:
            self.pending += 1

    def segment_done(self) -> None:
        """The storage thread finished with one segment (stored or lost)."""
        with self._lock:
            self.pending -= 1


class AlertWatch:
    """Calls ``on_alert`` with the health snapshot whenever the set of alerts changes (on the recorder thread)."""

    def __init__(self, name: str, on_alert: Callable[[CameraHealth], None] | None) -> None:
        """Watch camera ``name``; ``on_alert`` must not block for long (it runs on the recorder thread)."""
        self._name = name
        self._on_alert = on_alert
        self._alerts: frozenset[CameraAlert] = frozenset()
        self._next_check_s = 0.0

    def check(self, snapshot: Callable[[], CameraHealth], *, force: bool = False) -> None:
        """Take a ``snapshot`` (at most every 0.25 s unless ``force``) and report a change of alerts."""
        now = time.monotonic()
        if not force and now < self._next_check_s:
            return
        self._next_check_s = now + _HEALTH_EVERY_S
        state = snapshot()
        if state.alerts == self._alerts:
            return
        raised, cleared = state.alerts - self._alerts, self._alerts - state.alerts
        self._alerts = state.alerts
        for alert in sorted(raised):
            logger.warning("camera %s: alert %s raised", self._name, alert.value)
        for alert in sorted(cleared):
            logger.info("camera %s: alert %s cleared", self._name, alert.value)
        if self._on_alert is not None:
            try:
                self._on_alert(state)
            except Exception:
                logger.exception("camera %s: on_alert callback failed", self._name)
