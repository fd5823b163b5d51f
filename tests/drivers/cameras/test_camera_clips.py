"""Order clips: segments joined by stream copy into one seekable MP4 covering the window, with marker offsets."""

from pathlib import Path

import av
import pytest
from camera_testkit import Recording, packets_of

from drivers.cameras import ClipError, assemble_clip, sha256_file

FRAME_MS = 1000 / 15
KEYFRAME_MS = 1000  # the recorder's default keyframe interval


def _window_across_three(recording: Recording) -> tuple[int, int]:
    segments = recording.segments
    assert len(segments) >= 3
    return segments[0].start_wall_ms + 300, segments[2].start_wall_ms + 700


def test_clip_across_three_segments_covers_the_window(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "clip.mp4")
    assert clip.first_segment == recording.segments[0]
    assert clip.last_segment == recording.segments[2]
    # Starts at the first keyframe inside the window: never before it, less than a keyframe interval after.
    assert start_ms <= clip.start_wall_ms < start_ms + KEYFRAME_MS + FRAME_MS
    assert end_ms - FRAME_MS <= clip.end_wall_ms <= end_ms + FRAME_MS
    assert clip.duration_s == pytest.approx((clip.end_wall_ms - clip.start_wall_ms) / 1000, abs=0.002)
    assert clip.duration_s == pytest.approx((end_ms - start_ms) / 1000, abs=(KEYFRAME_MS + 2 * FRAME_MS) / 1000)


def test_clip_is_a_playable_faststart_mp4(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "clip.mp4")
    data = clip.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: a browser can seek before it has it all
    assert b"moof" not in data
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration / 1_000_000 == pytest.approx(clip.duration_s, abs=FRAME_MS / 1000)
        decoded = list(container.decode(video=0))
    assert len(decoded) == clip.frames
    assert decoded[0].key_frame
    assert clip.sha256 == sha256_file(clip.path)
    assert clip.bytes == len(data)
    assert not list(tmp_path.glob("*.part"))


def test_clip_is_a_copy_of_the_recorded_packets(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "clip.mp4")
    recorded = [p.payload for segment in recording.segments[:3] for p in packets_of(segment.path)]
    copied = [p.payload for p in packets_of(clip.path)]
    first = recorded.index(copied[0])
    assert recorded[first : first + len(copied)] == copied


def test_clip_timeline_follows_wall_time(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "clip.mp4")
    # The frame at the clip time of the second segment's start is that segment's first (key)frame.
    boundary_s = (recording.segments[1].start_wall_ms - clip.start_wall_ms) / 1000
    packets = packets_of(clip.path)
    at_boundary = min(packets, key=lambda p: abs(float(p.pts * p.time_base) - boundary_s))
    assert abs(float(at_boundary.pts * at_boundary.time_base) - boundary_s) < 0.002
    assert at_boundary.payload == packets_of(recording.segments[1].path)[0].payload


def test_marker_offsets_are_seconds_from_the_clip_start(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    scan = recording.segments[1].start_wall_ms + 250
    markers = [(scan, "item 6901234567892"), (start_ms, "first scan"), (end_ms + 5000, "late")]
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "clip.mp4", markers)
    offsets = {label: offset for offset, label in clip.markers_offsets}
    assert offsets["item 6901234567892"] == pytest.approx((scan - clip.start_wall_ms) / 1000, abs=0.001)
    assert offsets["first scan"] <= 0  # the clip starts at the keyframe at or after the window start
    assert offsets["late"] > clip.duration_s  # outside the clip: true offset, the player clamps


def test_window_without_a_keyframe_starts_at_the_one_before(recording: Recording, tmp_path: Path) -> None:
    segment = recording.segments[0]
    start_ms = segment.start_wall_ms + 100
    end_ms = segment.start_wall_ms + 500
    clip = assemble_clip(recording.segments, start_ms, end_ms, tmp_path / "short.mp4")
    assert clip.start_wall_ms == segment.start_wall_ms
    assert clip.end_wall_ms <= end_ms + FRAME_MS


def test_segments_in_any_order_with_extras(recording: Recording, tmp_path: Path) -> None:
    start_ms, end_ms = _window_across_three(recording)
    shuffled = [*list(reversed(recording.segments)), recording.segments[0]]
    clip = assemble_clip(shuffled, start_ms, end_ms, tmp_path / "clip.mp4")
    assert clip.first_segment == recording.segments[0]


def test_no_footage_in_the_window_is_an_error(recording: Recording, tmp_path: Path) -> None:
    after = recording.segments[-1].end_wall_ms + 60_000
    with pytest.raises(ClipError):
        assemble_clip(recording.segments, after, after + 1000, tmp_path / "none.mp4")
    with pytest.raises(ClipError):
        assemble_clip(recording.segments, after, after, tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def test_a_missing_segment_file_is_an_error(recording: Recording, tmp_path: Path) -> None:
    segment = recording.segments[0]
    gone = type(segment)(**{**segment.to_dict(), "path": tmp_path / "gone.mp4"})
    with pytest.raises(ClipError):
        assemble_clip([gone], segment.start_wall_ms, segment.end_wall_ms, tmp_path / "clip.mp4")
