"""Camera sources: the URL factory, the simulator's determinism and knobs, the USB grabber, the stream reader."""

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from camera_testkit import Recording, wait_for

from drivers.cameras import CameraConfigError, SimCamera, StreamCamera, UsbCamera, open_camera, redact_url
from drivers.cameras.sources import FrameSource, PacketSource, SimKnobs, render_pattern

# -- factory ---------------------------------------------------------------------------------------------------


def test_sim_options_from_query_and_keywords() -> None:
    camera = open_camera("sim://bench1?width=160&height=120&fps=10&frozen_after_s=3", slow_fps=2)
    assert isinstance(camera, SimCamera)
    assert camera.knobs == SimKnobs(width=160, height=120, fps=10, frozen_after_s=3, slow_fps=2)
    assert camera.url == "sim://bench1"
    assert isinstance(camera, FrameSource)
    assert not isinstance(camera, PacketSource)


@pytest.mark.parametrize(
    "url",
    [
        "sim://x?widht=160",  # misspelt
        "sim://x?fps=0",
        "usb:///dev/video0?fourcc=mjpg",
        "usb://",
        "http://camera/stream",
        "file:///x.mp4?decode=some",
    ],
)
def test_bad_urls_and_options_are_errors(url: str) -> None:
    with pytest.raises(CameraConfigError):
        open_camera(url)


def test_rtsp_url_goes_to_the_camera_unchanged_and_options_are_keywords() -> None:
    url = "rtsp://admin:s3cret@10.0.0.9:554/cam/realmonitor?channel=1&subtype=0"
    camera = open_camera(url, read_timeout_s=3, decode="all")
    assert isinstance(camera, StreamCamera)
    assert isinstance(camera, PacketSource)
    assert camera.kind == "rtsp"
    assert "s3cret" not in camera.url
    assert camera.url == "rtsp://admin:***@10.0.0.9:554/cam/realmonitor?channel=1&subtype=0"
    with pytest.raises(CameraConfigError):
        open_camera(url, read_timeout=3)


def test_redaction_leaves_urls_without_password_alone() -> None:
    assert redact_url("rtsp://10.0.0.9/Streaming/Channels/101") == "rtsp://10.0.0.9/Streaming/Channels/101"
    assert "pw" not in redact_url("rtsp://u:pw@h/x")


def test_usb_device_forms() -> None:
    assert open_camera("usb://0").url == "usb://0"
    by_id = open_camera("usb:///dev/v4l/by-id/usb-cam-video-index0?width=640&height=480")
    assert isinstance(by_id, UsbCamera)
    assert by_id.url == "usb:///dev/v4l/by-id/usb-cam-video-index0"


# -- simulator -------------------------------------------------------------------------------------------------


def test_pattern_is_deterministic_and_moves() -> None:
    knobs = SimKnobs(width=160, height=120, fps=10)
    assert np.array_equal(render_pattern(knobs, 7), render_pattern(knobs, 7))
    assert not np.array_equal(render_pattern(knobs, 7), render_pattern(knobs, 8))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sim_delivers_on_schedule_and_a_late_reader_gets_the_newest_frame() -> None:
    clock = FakeClock()
    camera = SimCamera("s", SimKnobs(width=64, height=48, fps=10), clock=clock)
    camera.start()
    first = camera.read(0.01)
    assert first is not None
    assert first.seq == 0
    assert camera.read(0.01) is None  # frame 1 is due in 100 ms
    clock.now += 1.0
    late = camera.read(0.01)
    assert late is not None
    assert late.seq == 10  # frames 1..9 were produced and missed
    assert np.array_equal(late.image, render_pattern(camera.knobs, 10, "s"))


def test_sim_knobs_freeze_drop_out_and_slow_down() -> None:
    clock = FakeClock()
    camera = SimCamera("k", SimKnobs(width=64, height=48, fps=10, frozen_after_s=1, dropout_after_s=3), clock=clock)
    camera.start()
    clock.now += 1.5
    a = camera.read(0.01)
    clock.now += 0.5
    b = camera.read(0.01)
    assert a is not None
    assert b is not None
    assert b.seq > a.seq
    assert np.array_equal(a.image, b.image)  # frozen: new frames, same picture
    assert camera.status().connected
    clock.now += 1.5
    assert camera.read(0.01) is None  # dropped out
    assert not camera.status().connected
    slow = SimCamera("k", SimKnobs(width=64, height=48, fps=10, slow_fps=2), clock=clock)
    slow.start()
    clock.now += 1.0
    frame = slow.read(0.01)
    assert frame is not None
    assert frame.seq == 2


def test_sim_close_wakes_a_waiting_reader() -> None:
    camera = SimCamera("w", SimKnobs(width=64, height=48, fps=0.2))
    camera.start()
    assert camera.read(1.0) is not None
    threading.Timer(0.1, camera.close).start()
    started = time.monotonic()
    assert camera.read(30.0) is None
    assert time.monotonic() - started < 10


# -- USB grabber, with a fake device ----------------------------------------------------------------------------


class FakeCapture:
    """Stands in for cv2.VideoCapture: records property calls, delivers ``frames`` frames then fails."""

    def __init__(self, log: list[Any], frames: int, opened: bool = True) -> None:
        self.log = log
        self.frames = frames
        self.opened = opened
        self.props: dict[int, float] = {}
        self.count = 0

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop_id: int, value: float) -> bool:
        self.log.append(("set", prop_id, value))
        self.props[prop_id] = value
        return True

    def get(self, prop_id: int) -> float:
        return self.props.get(prop_id, 0.0)

    def read(self) -> tuple[bool, Any]:
        time.sleep(0.01)
        if self.count >= self.frames:
            return False, None
        self.count += 1
        return True, np.full((48, 64, 3), self.count % 255, dtype=np.uint8)

    def release(self) -> None:
        self.log.append(("release",))


def test_usb_sets_mjpg_before_the_size_and_reads_the_newest_frame() -> None:
    log: list[Any] = []
    captures: list[FakeCapture] = []

    def factory(device: str | int) -> FakeCapture:
        captures.append(FakeCapture(log, frames=10_000))
        return captures[-1]

    camera = open_camera("usb:///dev/video7?width=64&height=48&fps=30", capture_factory=factory)
    camera.start()
    try:
        assert isinstance(camera, UsbCamera)
        first = camera.read(2.0)
        assert first is not None
        time.sleep(0.1)  # the grabber goes on meanwhile
        newest = camera.read(2.0)
        assert newest is not None
        assert newest.seq > first.seq + 1  # only the newest frame is kept
        props = [entry[1] for entry in log if entry[0] == "set"]
        assert props.index(cv2.CAP_PROP_FOURCC) < props.index(cv2.CAP_PROP_FRAME_WIDTH)
        assert props.index(cv2.CAP_PROP_FOURCC) < props.index(cv2.CAP_PROP_FRAME_HEIGHT)
        assert captures[0].props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"MJPG")
        status = camera.status()
        assert status.connected
        assert (status.width, status.height) == (64, 48)
    finally:
        camera.close()
    assert ("release",) in log


def test_usb_reopens_after_failure_and_while_absent() -> None:
    log: list[Any] = []
    plan = iter([FakeCapture(log, frames=3), FakeCapture(log, 0, opened=False), FakeCapture(log, frames=10_000)])

    def factory(device: str | int) -> FakeCapture:
        return next(plan, FakeCapture(log, frames=10_000))

    camera = open_camera("usb://3?reopen_min_s=0.05&read_fail_limit=2", capture_factory=factory)
    camera.start()
    try:
        assert wait_for(lambda: camera.status().reconnects >= 1 and camera.status().connected)
        frame = camera.read(2.0)
        assert frame is not None
        assert frame.seq >= 3  # frame numbers go on across the reconnect
    finally:
        camera.close()


# -- stream reader (RTSP code path, fed a local file) --------------------------------------------------------------


def test_stream_reads_packets_with_times_and_decodes_keyframes(recording: Recording) -> None:
    camera = open_camera(f"file://{recording.segments[0].path}", realtime=False)
    assert isinstance(camera, StreamCamera)
    camera.start()
    try:
        packets = []
        while (packet := camera.read_packet(1.0)) is not None:
            packets.append(packet)
        assert len(packets) == recording.segments[0].frames
        assert packets[0].keyframe
        assert all(b.mono_s > a.mono_s for a, b in itertools.pairwise(packets))
        assert all(p.generation == 1 for p in packets)
        latest = camera.latest_frame()
        assert latest is not None
        assert latest.image.shape == (240, 320, 3)
        assert camera.status().width == 320
    finally:
        camera.close()


def test_stream_that_cannot_be_opened_is_a_state_not_an_exception(tmp_path: Path) -> None:
    camera = open_camera(f"file://{tmp_path}/missing.mp4", reconnect_min_s=0.05)
    camera.start()
    try:
        assert isinstance(camera, StreamCamera)
        assert camera.read_packet(0.1) is None
        status = camera.status()
        assert not status.connected
        assert status.last_error is not None
        assert "open failed" in status.last_error
    finally:
        camera.close()


def test_stream_that_is_not_h264_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mpeg4.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    camera = open_camera(f"file://{path}")
    camera.start()
    try:
        error = camera.status().last_error
        assert error is not None
        assert "H.264" in error
    finally:
        camera.close()
