"""Continuous recording from the simulated camera: segments are valid fragmented-MP4 H.264 that tile time."""

import hashlib
import itertools
from pathlib import Path

import av
import cv2
import pytest
from camera_testkit import Recording, packets_of

from drivers.cameras import CameraConfigError, EncoderUnavailable, Recorder, choose_encoder, open_camera, probe_encoder

FRAME_MS = 1000 / 15


def test_three_segments_were_recorded(recording: Recording) -> None:
    assert len(recording.segments) >= 2
    assert all(segment.frames > 0 for segment in recording.segments)


def test_segments_are_h264_starting_with_a_keyframe(recording: Recording) -> None:
    for segment in recording.segments:
        with av.open(str(segment.path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)
        packets = packets_of(segment.path)
        assert packets[0].keyframe
        assert len(packets) == segment.frames
        assert segment.keyframe_at_start
        assert (segment.codec, segment.width, segment.height) == ("h264", 320, 240)


def test_segments_are_fragmented_mp4(recording: Recording) -> None:
    for segment in recording.segments:
        data = segment.path.read_bytes()
        assert data[4:8] == b"ftyp"
        assert b"moof" in data
        assert b"mvex" in data  # the empty moov announces fragments


def test_every_frame_decodes(recording: Recording) -> None:
    segment = recording.segments[0]
    with av.open(str(segment.path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == segment.frames


def test_sha256_and_size_match_the_file(recording: Recording) -> None:
    for segment in recording.segments:
        data = segment.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == segment.sha256
        assert len(data) == segment.bytes


def test_segment_times_tile_without_gaps(recording: Recording) -> None:
    segments = recording.segments
    for earlier, later in itertools.pairwise(segments):
        assert earlier.end_wall_ms == later.start_wall_ms
    for segment in segments[:-1]:
        # Cut at the first frame at or after 2 s: never shorter, at most one frame period longer.
        assert 2000 <= segment.duration_ms <= 2000 + FRAME_MS + 5


def test_segment_timeline_matches_its_wall_times(recording: Recording) -> None:
    for segment in recording.segments[:-1]:
        with av.open(str(segment.path)) as container:
            duration_ms = container.duration / 1000
        # The file's own timeline covers the wall-clock span, to within a frame.
        assert abs(duration_ms - segment.duration_ms) <= FRAME_MS + 1


def test_segments_land_in_storage_and_leave_ram_empty(recording: Recording) -> None:
    for segment in recording.segments:
        assert segment.path.is_relative_to(recording.segment_dir)
        assert segment.path.parent.parent == recording.segment_dir  # one folder per day
    assert list(recording.ram_dir.iterdir()) == []


def test_on_segment_runs_on_the_storage_thread(recording: Recording) -> None:
    assert recording.callback_threads
    assert all(name == "camera-store-cam" for name in recording.callback_threads)


def test_health_while_recording(recording: Recording) -> None:
    health = recording.health_before_stop
    assert health["ok"] is True
    assert health["recording"] is True
    assert health["encoder"] == "libx264"
    assert isinstance(health["frames_encoded"], int)
    assert health["frames_encoded"] > 0


def test_photo_is_a_jpeg_with_its_hash(recording: Recording) -> None:
    photo = recording.photo
    assert photo is not None
    data = photo.path.read_bytes()
    assert data[:2] == b"\xff\xd8"
    assert hashlib.sha256(data).hexdigest() == photo.sha256
    image = cv2.imread(str(photo.path))
    assert image.shape == (240, 320, 3)
    assert recording.segments[0].start_wall_ms <= photo.wall_ms <= recording.segments[-1].end_wall_ms


def test_the_encoder_probe_chooses_libx264_here() -> None:
    if Path("/dev/video11").exists():
        pytest.skip("this machine has a V4L2 M2M encoder")
    assert probe_encoder("libx264")
    assert not probe_encoder("h264_v4l2m2m")
    assert choose_encoder("auto", 320, 240) == "libx264"
    with pytest.raises(EncoderUnavailable):
        choose_encoder("h264_v4l2m2m", 320, 240)
    with pytest.raises(CameraConfigError):
        choose_encoder("libx265", 320, 240)


@pytest.mark.parametrize("segment_s", [1.0, 11.0])
def test_segment_length_outside_2_to_10_s_is_refused(tmp_path: Path, segment_s: float) -> None:
    with pytest.raises(CameraConfigError):
        Recorder(open_camera("sim://x"), tmp_path, segment_s=segment_s)


def test_stop_without_start_and_twice_is_harmless(tmp_path: Path) -> None:
    recorder = Recorder(open_camera("sim://x"), tmp_path)
    recorder.stop()
    recorder.stop()
    assert not recorder.running
