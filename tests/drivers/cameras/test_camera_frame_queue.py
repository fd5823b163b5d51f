"""The frame queue between the reader and recorder threads: a stall waits in it, a long one drops the oldest."""

import threading
import time
from pathlib import Path

import pytest
from camera_testkit import wait_for

from drivers.cameras import Frame, Recorder, RecorderSettings, SegmentInfo, SourceStatus
from drivers.cameras.frames import wall_ms_now
from drivers.cameras.sources import SimKnobs, render_pattern


class BurstSource:
    """``count`` frames as fast as they are read, then nothing; ``exhausted`` once all were handed out."""

    url = "test://burst"
    kind = "sim"
    delivers_packets = False

    def __init__(self, count: int) -> None:
        self._count = count
        self._seq = 0
        self._knobs = SimKnobs(width=160, height=120, fps=30)
        self.exhausted = threading.Event()
        self.reader_threads: set[str] = set()

    def start(self) -> None:
        self.reader_threads.add(threading.current_thread().name)

    def close(self) -> None:
        self.reader_threads.add(threading.current_thread().name)

    def status(self) -> SourceStatus:
        return SourceStatus(self.url, "sim", True, 160, 120, 30.0, 0, None)

    def read(self, timeout_s: float) -> Frame | None:
        self.reader_threads.add(threading.current_thread().name)
        if self._seq >= self._count:
            self.exhausted.set()
            time.sleep(timeout_s)
            return None
        frame = Frame(render_pattern(self._knobs, self._seq), wall_ms_now(), time.monotonic(), self._seq)
        self._seq += 1
        time.sleep(0.005)
        return frame


def _record_with_a_stall(tmp_path: Path, frames: int, queue: int) -> tuple[Recorder, BurstSource, list[SegmentInfo]]:
    """Record a burst while the recorder thread is held at its first frame until the source handed out all."""
    source = BurstSource(frames)
    segments: list[SegmentInfo] = []
    recorder = Recorder(
        source,
        tmp_path / "segments",
        ram_dir=tmp_path / "ram",
        segment_s=2.0,
        encoder="libx264",
        on_segment=segments.append,
        settings=RecorderSettings(storage_min_free_bytes=0, frame_queue=queue),
        name="q",
    )
    take = recorder._take_frame

    def held_at_the_first_frame(frame: Frame) -> None:
        if frame.seq == 0:
            assert source.exhausted.wait(10)
        take(frame)

    recorder._take_frame = held_at_the_first_frame  # type: ignore[method-assign]
    recorder.start()
    assert wait_for(lambda: recorder.health_state().frames_captured + recorder.health_state().frames_dropped >= frames)
    recorder.stop()
    return recorder, source, segments


def test_frames_wait_in_the_queue_while_the_recorder_is_busy(tmp_path: Path) -> None:
    recorder, _, segments = _record_with_a_stall(tmp_path, frames=8, queue=7)
    state = recorder.health_state()
    assert (state.frames_captured, state.frames_dropped, state.frames_encoded) == (8, 0, 8)
    assert sum(segment.frames for segment in segments) == 8


def test_a_full_queue_drops_the_oldest_frame_and_counts_it(tmp_path: Path) -> None:
    recorder, _, segments = _record_with_a_stall(tmp_path, frames=8, queue=4)
    state = recorder.health_state()
    # Frames 1-7 came while frame 0 was held; the queue kept the newest four: frames 1-3 were lost.
    assert (state.frames_captured, state.frames_dropped, state.frames_encoded) == (5, 3, 5)
    assert sum(segment.frames for segment in segments) == 5


def test_the_source_is_opened_read_and_closed_on_the_reader_thread(tmp_path: Path) -> None:
    _, source, _ = _record_with_a_stall(tmp_path, frames=3, queue=4)
    assert source.reader_threads == {"camera-read-q"}


def test_queue_length_is_bounded_in_the_settings() -> None:
    with pytest.raises(ValueError):
        RecorderSettings(frame_queue=0)
