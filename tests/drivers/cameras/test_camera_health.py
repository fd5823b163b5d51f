"""Health: frozen picture, no frames, encoder behind, recorder failure; and the frames the station sees."""

import time
from pathlib import Path

import numpy as np
import pytest
from camera_testkit import wait_for

from drivers.cameras import (
    CameraAlert,
    CameraHealth,
    Frame,
    NoFrameError,
    Recorder,
    RecorderSettings,
    SegmentInfo,
    SourceStatus,
    open_camera,
)
from drivers.cameras.frames import wall_ms_now
from drivers.cameras.health import FrameMeter, FreezeDetector
from drivers.cameras.sources import SimKnobs, render_pattern

FAST = {
    "no_frames_after_s": 1.0,
    "photo_max_age_s": 1.0,
    "frozen_after_s": 1.0,
    "freeze_sample_s": 0.2,
    "storage_min_free_bytes": 0,
}


def _recorder(tmp_path: Path, url_or_source: object, **kwargs: object) -> tuple[Recorder, list[CameraHealth]]:
    alerts: list[CameraHealth] = []
    source = open_camera(url_or_source) if isinstance(url_or_source, str) else url_or_source
    recorder = Recorder(
        source,  # type: ignore[arg-type]
        tmp_path / "segments",
        ram_dir=tmp_path / "ram",
        segment_s=2,
        on_alert=alerts.append,
        settings=RecorderSettings(**FAST),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    return recorder, alerts


def test_frozen_picture_raises_frozen_and_refuses_photos(tmp_path: Path) -> None:
    recorder, alerts = _recorder(tmp_path, "sim://f?width=160&height=120&fps=10&frozen_after_s=0.5")
    recorder.start()
    try:
        assert wait_for(lambda: CameraAlert.FROZEN in recorder.health_state().alerts)
        health = recorder.health()
        assert "frozen" in health["alerts"]  # type: ignore[operator]
        assert health["latest_frame_age_s"] is not None  # frames still come
        assert CameraAlert.NO_FRAMES not in recorder.health_state().alerts
        with pytest.raises(NoFrameError):
            recorder.take_photo(tmp_path / "frozen.jpg")
        assert not (tmp_path / "frozen.jpg").exists()
        assert wait_for(lambda: any(CameraAlert.FROZEN in state.alerts for state in alerts))
    finally:
        recorder.stop()


def test_moving_picture_is_not_frozen(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path, "sim://m?width=160&height=120&fps=10")
    recorder.start()
    try:
        assert wait_for(lambda: recorder.health_state().frames_captured >= 20)
        state = recorder.health_state()
        assert state.ok
        assert state.frozen_for_s < 1.0
    finally:
        recorder.stop()


def test_dropout_raises_no_frames_and_closes_the_segment(tmp_path: Path) -> None:
    segments: list[SegmentInfo] = []
    recorder, alerts = _recorder(
        tmp_path, "sim://d?width=160&height=120&fps=10&dropout_after_s=0.6", on_segment=segments.append
    )
    recorder.start()
    try:
        assert wait_for(lambda: CameraAlert.NO_FRAMES in recorder.health_state().alerts)
        # The footage up to the drop-out is stored while the camera is still away (not at stop).
        assert wait_for(lambda: len(segments) == 1)
        assert recorder.health()["source"]["connected"] is False  # type: ignore[index]
        with pytest.raises(NoFrameError):
            recorder.take_photo(tmp_path / "dead.jpg")
        assert wait_for(lambda: any(CameraAlert.NO_FRAMES in state.alerts for state in alerts))
    finally:
        recorder.stop()
    assert len(segments) == 1
    assert segments[0].frames in range(5, 8)


class GappySource:
    """A frame source whose reader keeps missing two frames out of three (an encoder that cannot keep up)."""

    url = "test://gappy"
    kind = "sim"
    delivers_packets = False

    def __init__(self) -> None:
        self._seq = 0
        self._knobs = SimKnobs(width=160, height=120, fps=30)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> SourceStatus:
        return SourceStatus(self.url, "sim", True, 160, 120, 30.0, 0, None)

    def read(self, timeout_s: float) -> Frame | None:
        time.sleep(0.1)
        self._seq += 3
        return Frame(render_pattern(self._knobs, self._seq), wall_ms_now(), time.monotonic(), self._seq)


def test_lost_frames_are_counted_and_raise_encoder_behind(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path, GappySource())
    recorder.start()
    try:
        assert wait_for(lambda: CameraAlert.ENCODER_BEHIND in recorder.health_state().alerts)
        state = recorder.health_state()
        assert state.frames_dropped == 2 * (state.frames_captured - 1)
    finally:
        recorder.stop()


class BrokenSource(GappySource):
    """A source with a bug: reading raises."""

    def read(self, timeout_s: float) -> Frame | None:
        raise RuntimeError("driver bug")


def test_an_unexpected_error_is_reported_not_swallowed(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path, BrokenSource())
    recorder.start()
    try:
        assert wait_for(lambda: not recorder.running)
        state = recorder.health_state()
        assert CameraAlert.RECORDER_FAILED in state.alerts
        assert state.last_error is not None
        assert "driver bug" in state.last_error
    finally:
        recorder.stop()


def test_latest_frame_is_clean_while_the_overlay_is_burned_in(tmp_path: Path) -> None:
    knobs = SimKnobs(width=160, height=120, fps=10)
    recorder, _ = _recorder(tmp_path, "sim://c?width=160&height=120&fps=10")
    recorder.start()
    recorder.set_overlay(order_id="SO1", packer="OP-7", bench="B3")
    try:
        assert wait_for(lambda: recorder.health_state().frames_encoded >= 5)
        frame = recorder.latest_frame()
        assert frame is not None
        assert np.array_equal(frame.image, render_pattern(knobs, frame.seq, "c"))
        age = recorder.latest_frame_age_s
        assert age is not None
        assert age >= 0
    finally:
        recorder.stop()


def test_freeze_detector_ignores_noise_but_not_repeats() -> None:
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    noisy = FreezeDetector(sample_s=0.0, diff_threshold=0.05)
    frozen = FreezeDetector(sample_s=0.0, diff_threshold=0.05)
    for step in range(10):
        noise = rng.integers(-3, 4, scene.shape)
        noisy.update(np.clip(scene.astype(int) + noise, 0, 255).astype(np.uint8), float(step))
        frozen.update(scene, float(step))
    assert noisy.frozen_for_s() == 0.0
    assert frozen.frozen_for_s() == 9.0


def test_frame_meter_rates() -> None:
    meter = FrameMeter(window_s=10.0)
    for step in range(11):
        meter.add(step * 0.1, 1 if step % 2 else 0)
    fps, lost = meter.rates(1.0)
    assert fps == pytest.approx(10.0)
    assert lost == pytest.approx(5 / 16)
