"""Stream copy: an H.264 camera's packets go into segments unchanged (no re-encoding).

No RTSP server is available in CI, so the camera is a local H.264 MP4 replayed in real time through
``StreamCamera`` — the very class and code path ``rtsp://`` uses from ``av.open`` on (only the RTSP protocol
options differ: TCP transport and the socket timeout).
"""

from pathlib import Path

import pytest
from camera_testkit import Recording, packets_of, record

from drivers.cameras import assemble_clip, open_camera


@pytest.fixture(scope="module")
def copied(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recording]:
    root = tmp_path_factory.mktemp("copy")
    first, last = recording.segments[0], recording.segments[-1]
    camera_file = assemble_clip(recording.segments, first.start_wall_ms, last.end_wall_ms, root / "camera.mp4").path
    result = record(
        root, open_camera(f"file://{camera_file}", loop=True), seconds=4.5, segment_s=2, photo=True, encoder="libx264"
    )
    return camera_file, result


def test_segments_hold_the_cameras_packets_byte_for_byte(copied: tuple[Path, Recording]) -> None:
    camera_file, result = copied
    sent = {p.payload for p in packets_of(camera_file)}
    assert len(result.segments) >= 2
    for segment in result.segments:
        stored = packets_of(segment.path)
        assert stored[0].keyframe
        assert len(stored) == segment.frames
        assert all(p.payload in sent for p in stored)  # re-encoding would change every payload


def test_copy_segments_tile_time_and_report_copy(copied: tuple[Path, Recording]) -> None:
    _, result = copied
    assert result.health_before_stop["encoder"] == "copy"
    for earlier, later in zip(result.segments, result.segments[1:], strict=False):
        assert earlier.end_wall_ms == later.start_wall_ms
    for segment in result.segments:
        assert (segment.codec, segment.width, segment.height) == ("h264", 320, 240)


def test_photo_from_a_copied_stream(copied: tuple[Path, Recording]) -> None:
    _, result = copied
    assert result.photo is not None
    assert result.photo.path.read_bytes()[:2] == b"\xff\xd8"


def test_clip_from_copied_segments(copied: tuple[Path, Recording], tmp_path: Path) -> None:
    _, result = copied
    first, last = result.segments[0], result.segments[-1]
    clip = assemble_clip(result.segments, first.start_wall_ms, last.end_wall_ms, tmp_path / "clip.mp4")
    assert clip.frames == sum(segment.frames for segment in result.segments)
