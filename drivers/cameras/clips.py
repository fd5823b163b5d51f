"""An order's clip: the footage between two wall times, joined from segments by stream copy into one MP4.

Nothing is re-encoded (a Pi cannot afford it, and a copy is byte-for-byte the recorded evidence): packets are
taken from the segments that overlap the window, their timestamps rewritten onto one timeline, and written
into a plain MP4 with its index at the front (``faststart``) so that a browser can seek in it while it
downloads over HTTP Range.

Where it starts and ends: a copied clip can only start at a keyframe. It starts at the first keyframe at or
after ``start_ms`` (so it never shows more than the window asked for; with the recorder's one-second keyframe
interval it loses less than a second of pre-roll) — or, when the window holds no keyframe at all, at the last
keyframe before it. It ends with the last frame before ``end_ms``. A gap in the recording (camera away) stays
a gap on the timeline: the player holds the last picture, and every offset keeps matching wall time.

Markers (scans, events) are ``(wall_ms, label)``; each becomes ``(offset_s, label)`` from the clip's first
frame. Markers outside the clip keep their true offset (negative, or past ``duration_s``); a player clamps.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from drivers.cameras.errors import ClipError
from drivers.cameras.files import publish, sha256_file
from drivers.cameras.segments import SegmentInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClipInfo:
    """A stored clip. ``start_wall_ms``/``end_wall_ms`` are what it really covers (see the module docstring)."""

    path: Path
    sha256: str
    duration_s: float
    first_segment: SegmentInfo
    last_segment: SegmentInfo
    markers_offsets: tuple[tuple[float, str], ...]
    start_wall_ms: int
    end_wall_ms: int
    frames: int
    bytes: int

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: paths as strings, the segments by path."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "duration_s": self.duration_s,
            "first_segment": str(self.first_segment.path),
            "last_segment": str(self.last_segment.path),
            "markers_offsets": [[offset, label] for offset, label in self.markers_offsets],
            "start_wall_ms": self.start_wall_ms,
            "end_wall_ms": self.end_wall_ms,
            "frames": self.frames,
            "bytes": self.bytes,
        }


@dataclass(frozen=True, slots=True)
class _PacketRef:
    segment: int
    ordinal: int
    wall_ms: float
    keyframe: bool


def _open(segment: SegmentInfo) -> Any:
    try:
        container = av.open(str(segment.path), "r")
    except (av.FFmpegError, OSError) as err:
        raise ClipError(f"segment {segment.path} cannot be read: {err}") from err
    if not container.streams.video:
        container.close()
        raise ClipError(f"segment {segment.path} has no video")
    return container


def _media_packets(container: Any) -> Iterable[Any]:
    stream = container.streams.video[0]
    for packet in container.demux(stream):
        if packet.size and (packet.pts is not None or packet.dts is not None):
            yield packet


def _stamp(packet: Any) -> int:
    return int(packet.pts if packet.pts is not None else packet.dts)


def _scan(segments: Sequence[SegmentInfo]) -> list[_PacketRef]:
    """Wall time and keyframe flag of every packet, in decode order (no payload kept)."""
    refs: list[_PacketRef] = []
    for index, segment in enumerate(segments):
        container = _open(segment)
        try:
            first: int | None = None
            for ordinal, packet in enumerate(_media_packets(container)):
                stamp = _stamp(packet)
                first = stamp if first is None else first
                wall = segment.start_wall_ms + float((stamp - first) * packet.time_base) * 1000
                refs.append(_PacketRef(index, ordinal, wall, bool(packet.is_keyframe)))
        except av.FFmpegError as err:
            raise ClipError(f"segment {segment.path} is damaged: {err}") from err
        finally:
            container.close()
    return refs


def _signature(container: Any) -> tuple[object, ...]:
    stream = container.streams.video[0]
    context = stream.codec_context
    return (context.name, context.width, context.height, context.extradata, stream.time_base)


def assemble_clip(
    segments: Sequence[SegmentInfo],
    start_ms: int,
    end_ms: int,
    out_path: str | Path,
    markers: Sequence[tuple[int, str]] = (),
) -> ClipInfo:
    """Join the footage of ``[start_ms, end_ms)`` from ``segments`` into one MP4 at ``out_path``.

    ``segments`` may be any superset of the ones needed, in any order (the station passes what its index
    returns for the window). Blocking (reads and writes files): call it from an executor. Raises
    :class:`ClipError` when no footage lies in the window or a segment cannot be read.
    """
    if end_ms <= start_ms:
        raise ClipError(f"empty window: {start_ms} .. {end_ms}")
    unique = {segment.path: segment for segment in segments}
    covering = sorted(
        (s for s in unique.values() if s.end_wall_ms > start_ms and s.start_wall_ms < end_ms),
        key=lambda s: s.start_wall_ms,
    )
    if not covering:
        raise ClipError(f"no recorded footage between {start_ms} and {end_ms}")
    refs = _scan(covering)
    inside = [i for i, ref in enumerate(refs) if ref.keyframe and start_ms <= ref.wall_ms < end_ms]
    before = [i for i, ref in enumerate(refs) if ref.keyframe and ref.wall_ms < start_ms]
    if inside:
        first_index = inside[0]
    elif before:
        first_index = before[-1]
    else:
        raise ClipError(f"no keyframe in or before the window {start_ms} .. {end_ms}")
    chosen = [first_index]
    for index in range(first_index + 1, len(refs)):
        if refs[index].wall_ms >= end_ms:
            break
        chosen.append(index)
    clip_start = refs[first_index].wall_ms
    return _write(covering, refs, chosen, clip_start, Path(out_path), markers)


def _write(
    covering: Sequence[SegmentInfo],
    refs: Sequence[_PacketRef],
    chosen: Sequence[int],
    clip_start: float,
    out_path: Path,
    markers: Sequence[tuple[int, str]],
) -> ClipInfo:
    wanted: dict[int, set[int]] = {}
    for index in chosen:
        wanted.setdefault(refs[index].segment, set()).add(refs[index].ordinal)
    wall_of = {(refs[i].segment, refs[i].ordinal): refs[i].wall_ms for i in chosen}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    frames = 0
    last_dts: int | None = None
    end_wall = clip_start
    used: list[int] = []
    output = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        out_stream: Any = None
        signature: tuple[object, ...] | None = None
        for segment_index in sorted(wanted):
            container = _open(covering[segment_index])
            try:
                if out_stream is None:
                    out_stream = output.add_stream_from_template(container.streams.video[0])
                    signature = _signature(container)
                elif _signature(container) != signature:
                    # Different codec parameters (the camera was reconfigured): they cannot share one track.
                    logger.warning("clip %s: stopping before %s (stream parameters changed)", out_path, container.name)
                    break
                used.append(segment_index)
                for ordinal, packet in enumerate(_media_packets(container)):
                    if ordinal not in wanted[segment_index]:
                        continue
                    wall = wall_of[(segment_index, ordinal)]
                    pts_out = round((wall - clip_start) / 1000 / packet.time_base)
                    delay = 0 if packet.pts is None or packet.dts is None else packet.pts - packet.dts
                    dts_out = pts_out - delay
                    if last_dts is not None and dts_out <= last_dts:
                        dts_out = last_dts + 1
                    packet.dts = dts_out
                    packet.pts = max(pts_out, dts_out)
                    last_dts = dts_out
                    packet.stream = out_stream
                    duration_ms = float(packet.duration * packet.time_base) * 1000 if packet.duration else 0.0
                    end_wall = max(end_wall, wall + duration_ms)
                    output.mux(packet)
                    frames += 1
            finally:
                container.close()
        output.close()
    except BaseException:
        output.close()
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, out_path)
    duration_s = round((end_wall - clip_start) / 1000, 3)
    return ClipInfo(
        path=out_path,
        sha256=sha256_file(out_path),
        duration_s=duration_s,
        first_segment=covering[used[0]],
        last_segment=covering[used[-1]],
        markers_offsets=tuple((round((wall_ms - clip_start) / 1000, 3), label) for wall_ms, label in markers),
        start_wall_ms=round(clip_start),
        end_wall_ms=round(end_wall),
        frames=frames,
        bytes=out_path.stat().st_size,
    )
