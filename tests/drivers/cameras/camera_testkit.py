"""Helpers for the camera tests: record from a source for a while, wait for a condition, read MP4s."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from drivers.cameras import (
    CameraHealth,
    PhotoInfo,
    Recorder,
    RecorderSettings,
    SegmentInfo,
    open_camera,
)
from drivers.cameras.sources.base import CameraSource


@dataclass
class Recording:
    """What a finished recording left behind."""

    segments: list[SegmentInfo]
    callback_threads: list[str]
    health_before_stop: dict[str, object]
    ram_dir: Path
    segment_dir: Path
    photo: PhotoInfo | None = None
    alerts: list[CameraHealth] = field(default_factory=list)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def record(
    root: Path,
    url_or_source: str | CameraSource,
    *,
    seconds: float,
    segment_s: float = 2.0,
    overlay: dict[str, str] | None = None,
    burn_overlay: bool = True,
    photo: bool = False,
    settings: dict[str, Any] | None = None,
    **recorder_kwargs: Any,
) -> Recording:
    """Record for ``seconds`` and stop; segments as reported to ``on_segment``."""
    segments: list[SegmentInfo] = []
    threads: list[str] = []
    alerts: list[CameraHealth] = []

    def on_segment(info: SegmentInfo) -> None:
        threads.append(threading.current_thread().name)
        segments.append(info)

    source = open_camera(url_or_source) if isinstance(url_or_source, str) else url_or_source
    ram_dir = root / "ram"
    segment_dir = root / "segments"
    recorder = Recorder(
        source,
        segment_dir,
        ram_dir=ram_dir,
        segment_s=segment_s,
        on_segment=on_segment,
        on_alert=alerts.append,
        settings=RecorderSettings(overlay=burn_overlay, storage_min_free_bytes=0, **(settings or {})),
        **recorder_kwargs,
    )
    recorder.start()
    if overlay:
        recorder.set_overlay(**overlay)
    time.sleep(seconds)
    taken = recorder.take_photo(root / "photo.jpg") if photo else None
    health = recorder.health()
    recorder.stop()
    return Recording(segments, threads, health, ram_dir, segment_dir, taken, alerts)


@dataclass(frozen=True)
class PacketView:
    """What the tests look at in a packet, copied out of PyAV."""

    pts: int | None
    dts: int | None
    keyframe: bool
    payload: bytes
    time_base: Any


def packets_of(path: Path) -> list[PacketView]:
    """The video packets of an MP4, in decode order (flush packets left out)."""
    with av.open(str(path)) as container:
        return [
            PacketView(packet.pts, packet.dts, bool(packet.is_keyframe), bytes(packet), packet.time_base)
            for packet in container.demux(container.streams.video[0])
            if packet.size
        ]


def first_frame(path: Path) -> np.ndarray:
    """The first decoded picture of a video file, BGR."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="bgr24")
    raise AssertionError(f"{path} has no frame")
