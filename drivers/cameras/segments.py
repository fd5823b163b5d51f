"""Writing one recording segment: a short fragmented MP4 of H.264 that starts with a keyframe.

Why fragmented MP4: the file is playable up to its last complete fragment even if the writer dies mid-way,
and the muxer keeps no index in memory. Why short segments: a clip is a run of whole segments cut at keyframes,
and retention can drop old footage in small steps.

Timestamps inside a segment are milliseconds since its first frame, measured on the monotonic clock, so the
video's timeline follows real time even when the camera delivered unevenly; ``start_wall_ms`` ties that
timeline to the wall clock. A segment's ``end_wall_ms`` is the start of the frame that opened the next
segment when recording went on without a gap, so consecutive segments tile time exactly.
"""

import logging
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

logger = logging.getLogger(__name__)

FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
"""``movflags`` of a segment: a fragment at each keyframe, the index up front and empty."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SegmentInfo:
    """A closed segment in storage, as reported to ``on_segment`` (what the station indexes)."""

    path: Path
    start_wall_ms: int
    end_wall_ms: int
    frames: int
    bytes: int
    sha256: str
    keyframe_at_start: bool = True
    codec: str = "h264"
    width: int
    height: int

    @property
    def duration_ms(self) -> int:
        """``end_wall_ms - start_wall_ms``."""
        return self.end_wall_ms - self.start_wall_ms

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the path as a string)."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True, slots=True)
class ClosedSegment:
    """A segment file just closed in the RAM directory, before it is hashed and moved to storage."""

    tmp_path: Path
    relative: str
    start_wall_ms: int
    end_wall_ms: int
    frames: int
    width: int
    height: int


class SegmentWriter:
    """One segment file being written from H.264 packets; make it with :meth:`encoded` or :meth:`copying`.

    Packets are muxed as they come (the recorder's encoder or the camera's stream); their timestamps are shifted
    so that the segment starts at zero. Not thread-safe.
    """

    def __init__(self, path: Path, relative: str, container: Any, stream: Any, width: int, height: int) -> None:
        """Use the class methods."""
        self.path = path
        self.relative = relative
        self._container = container
        self._stream = stream
        self.width = width
        self.height = height
        self.frames = 0
        self.start_wall_ms: int | None = None
        self.first_mono_s: float | None = None
        self.last_mono_s: float | None = None
        self.last_wall_ms: int | None = None
        self._base_dts: int | None = None

    @classmethod
    def encoded(cls, path: Path, relative: str, width: int, height: int, fps: float) -> "SegmentWriter":
        """A segment for packets of the recorder's own encoder (parameter sets in-band, see ``encoder``)."""
        container = av.open(str(path), "w", format="mp4", options={"movflags": FMP4_FLAGS})
        try:
            # A stream without codec context: PyAV takes the MP4 header's SPS/PPS from the first keyframe.
            stream = container.add_mux_stream(
                "h264", rate=Fraction(fps).limit_denominator(1001), width=width, height=height
            )
        except BaseException:
            container.close()
            path.unlink(missing_ok=True)
            raise
        return cls(path, relative, container, stream, width, height)

    @classmethod
    def copying(cls, path: Path, relative: str, template: Any) -> "SegmentWriter":
        """A segment of packets copied from ``template``'s stream; the caller starts it at a keyframe."""
        container = av.open(str(path), "w", format="mp4", options={"movflags": FMP4_FLAGS})
        context = template.codec_context
        try:
            if context.extradata:
                stream = container.add_stream_from_template(template)
            else:
                # No SPS/PPS in the SDP (some cameras leave sprop-parameter-sets out): like our own encoder's
                # segments, the MP4 header then takes them from the first keyframe, which carries them in-band.
                rate = template.average_rate or template.guessed_rate or 25
                stream = container.add_mux_stream("h264", rate=rate, width=context.width, height=context.height)
        except BaseException:
            container.close()
            path.unlink(missing_ok=True)
            raise
        return cls(path, relative, container, stream, int(context.width), int(context.height))

    def add_packet(self, packet: Any, mono_s: float, wall_ms: int) -> None:
        """Mux one packet of a frame captured at ``mono_s``/``wall_ms``."""
        if self.first_mono_s is None:
            self.first_mono_s = mono_s
            self.start_wall_ms = wall_ms
        self.last_mono_s = mono_s
        self.last_wall_ms = wall_ms
        dts = packet.dts if packet.dts is not None else packet.pts
        if self._base_dts is None:
            self._base_dts = dts
        packet.dts = dts - self._base_dts
        if packet.pts is not None:
            packet.pts = packet.pts - self._base_dts
        packet.stream = self._stream
        self._container.mux(packet)
        self.frames += 1

    def close(self, end_wall_ms: int | None, frame_s: float) -> ClosedSegment | None:
        """Close the file; None (and no file) when it holds no frame.

        ``end_wall_ms`` is where the next segment starts (None when recording stops or pauses: then the
        last frame's time plus one frame period ``frame_s``).
        """
        self._container.close()
        if self.frames == 0 or self.start_wall_ms is None or self.last_wall_ms is None:
            self.path.unlink(missing_ok=True)
            return None
        if end_wall_ms is None:
            end_wall_ms = self.last_wall_ms + round(frame_s * 1000)
        return ClosedSegment(
            tmp_path=self.path,
            relative=self.relative,
            start_wall_ms=self.start_wall_ms,
            end_wall_ms=max(end_wall_ms, self.start_wall_ms + 1),
            frames=self.frames,
            width=self.width,
            height=self.height,
        )

    def abort(self) -> None:
        """Close without caring for the content and delete the file (after a write error)."""
        try:
            self._container.close()
        except (av.FFmpegError, OSError) as err:
            logger.debug("segment %s: error while aborting: %s", self.path, err)
        self.path.unlink(missing_ok=True)
