"""Cutting the camera's picture into segment files in the RAM directory: H.264 encoding or stream copy.

Runs on the recorder thread (``camera-rec-NAME``). For a camera that delivers pictures (USB, ``sim://``) each
frame gets the overlay burned in and is encoded by our own encoder; a segment is cut exactly every
``segment_s`` at a keyframe we ask for, and the old segment stays open until the encoder has handed out its
last packet. For an RTSP camera the camera's packets are copied, and a segment is cut at the first camera
keyframe after ``segment_s``. Closed segments go to ``hand_over`` (the storage thread's queue).

Why a RAM directory (``ram_dir``, e.g. ``/dev/shm/packing-station/cam1``): the muxer writes a segment in many
small pieces; an SD card wears and stalls under that. Closed segments move to storage in one write.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from drivers.cameras.encoder import EncoderSettings, FrameEncoder, choose_encoder
from drivers.cameras.errors import is_disk_full
from drivers.cameras.frames import EncodedPacket, Frame, wall_ms_now
from drivers.cameras.health import RecorderCounters
from drivers.cameras.overlay import Overlay, OverlayBurner
from drivers.cameras.recorder_settings import RecorderSettings
from drivers.cameras.segments import ClosedSegment, SegmentWriter
from drivers.cameras.sources.base import PacketSource, SourceStatus
from drivers.cameras.space import SpaceGuard

logger = logging.getLogger(__name__)

# Frames an encoder dropped never come back out of it; never more than a few are in flight otherwise.
_MAX_IN_FLIGHT = 64


class SegmentCutter:
    """Frames or packets of one camera into segment files (recorder thread only; see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        ram_dir: Path,
        segment_s: float,
        encoder: str,
        settings: RecorderSettings,
        status: Callable[[], SourceStatus],
        overlay: Callable[[], Overlay],
        burner: OverlayBurner,
        space: SpaceGuard,
        counters: RecorderCounters,
        hand_over: Callable[[ClosedSegment], None],
    ) -> None:
        """Cut segments of ``segment_s`` named after camera ``name`` in ``ram_dir``.

        ``encoder`` is the wanted encoder (``auto``, ``libx264`` or ``h264_v4l2m2m``); ``status`` gives the
        camera's frame rate; ``overlay`` the text to burn in with ``burner``; ``hand_over`` takes each closed
        segment.
        """
        self._name = name
        self._ram_dir = ram_dir
        self._segment_s = segment_s
        self._encoder_wanted = encoder
        self._settings = settings
        self._status = status
        self._overlay = overlay
        self._burner = burner
        self._space = space
        self._n = counters
        self._hand_over = hand_over

        self.encoder_name: str | None = None
        """The encoder in use (chosen by :meth:`choose_encoder` or at the first frame); None before."""
        self._encoder: FrameEncoder | None = None
        self._pts_origin_s = 0.0
        self._last_pts = -1
        self._inflight: dict[int, tuple[float, int]] = {}  # pts -> (mono_s, wall_ms) of frames in the encoder
        self._writer: SegmentWriter | None = None
        self._writer_start_pts = 0
        self._closing: tuple[SegmentWriter, int] | None = None  # the previous segment, until its last packet
        self._writer_generation = 0

    def prepare_ram_dir(self) -> None:
        """Create the RAM directory and remove this camera's unfinished segments from an earlier run."""
        self._ram_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self._ram_dir.glob(f"{self._name}-*.mp4"):
            # A segment left by a crash or power cut was never indexed; its times are unknown.
            logger.warning("camera %s: removing unfinished segment %s", self._name, leftover)
            leftover.unlink(missing_ok=True)

    def choose_encoder(self) -> None:
        """Probe and choose the encoder now (before the camera starts, so the probe costs no frame's time)."""
        self.encoder_name = choose_encoder(self._encoder_wanted)

    @property
    def is_open(self) -> bool:
        """True while a segment is being written (or the previous one still waits for its last packet)."""
        return self._writer is not None or self._closing is not None

    # -- frames: our own encoder ---------------------------------------------------------------------------------

    def record_frame(self, frame: Frame) -> None:
        """Encode ``frame`` (overlay burned in) into the open segment, cutting a new one when it is due."""
        writer = self._writer
        if writer is not None and (frame.width, frame.height) != (writer.width, writer.height):
            logger.warning("camera %s: picture size changed to %dx%d", self._name, frame.width, frame.height)
            self.close_segment(None)
            writer = None
        cut = (
            writer is not None
            and writer.first_mono_s is not None
            and frame.mono_s - writer.first_mono_s >= self._segment_s
        )
        if self._encoder is None:
            self._encoder = self._new_encoder(frame)
            self._pts_origin_s = frame.mono_s
            self._last_pts = -1
        encoder = self._encoder
        pts = max(self._last_pts + 1, round((frame.mono_s - self._pts_origin_s) * 1000))
        keyframe = writer is None or cut
        if keyframe:
            if writer is not None:
                # The old segment stays open until the encoder has handed out its last packet.
                self._closing = (writer, frame.wall_ms)
                self._writer = None
            fps = self._nominal_fps()
            width, height = frame.width, frame.height
            writer = self._open_segment(
                frame.wall_ms, lambda path, rel: SegmentWriter.encoded(path, rel, width, height, fps)
            )
            if writer is None:
                self.close_segment(None)
                return
            self._writer = writer
            self._writer_start_pts = pts
        self._last_pts = pts
        self._inflight[pts] = (frame.mono_s, frame.wall_ms)
        if self._settings.overlay:
            video_frame = self._burner.encode_burned(frame, self._overlay(), encoder.frame_for)
        else:
            video_frame = encoder.frame_for(frame.image)
        try:
            for packet in encoder.encode(video_frame, pts, keyframe=keyframe):
                self._route(packet)
        except (av.FFmpegError, OSError) as err:
            self._write_failed(err)

    def _route(self, packet: Any) -> None:
        """Mux a packet of our encoder into the segment its frame belongs to."""
        pts = int(packet.pts)
        timing = self._inflight.pop(pts, None)
        if timing is None:
            timing = (self._pts_origin_s + pts / 1000, wall_ms_now())
        if len(self._inflight) > _MAX_IN_FLIGHT:
            self._inflight.clear()
        if self._closing is not None:
            if self._writer is None or pts < self._writer_start_pts:
                self._closing[0].add_packet(packet, *timing)
                return
            self._finish_closing()
        if self._writer is not None:
            self._writer.add_packet(packet, *timing)
            self._n.frames_recorded += 1

    def _new_encoder(self, frame: Frame) -> FrameEncoder:
        name = self.encoder_name or choose_encoder(self._encoder_wanted)
        self.encoder_name = name
        fps = self._nominal_fps()
        settings = EncoderSettings(
            name="libx264" if name == "libx264" else "h264_v4l2m2m",
            keyframe_interval=max(1, round(fps * self._settings.keyframe_interval_s)),
            crf=self._settings.crf,
            bitrate_kbps=self._settings.bitrate_kbps,
        )
        return FrameEncoder(settings, frame.width, frame.height, fps)

    def _nominal_fps(self) -> float:
        fps = self._status().fps
        return fps if fps > 0 else 30.0

    # -- packets: stream copy ------------------------------------------------------------------------------------

    def record_packet(self, packet: EncodedPacket, source: PacketSource) -> None:
        """Copy the camera's ``packet`` into the open segment, cutting a new one at a keyframe when it is due."""
        writer = self._writer
        if writer is not None and packet.generation != self._writer_generation:
            self.close_segment(None)
            writer = None
        if (
            writer is not None
            and packet.keyframe
            and writer.first_mono_s is not None
            and packet.mono_s - writer.first_mono_s >= self._segment_s
        ):
            self.close_segment(packet.wall_ms)
            writer = None
        if writer is None:
            if not packet.keyframe:
                return  # a segment must start with a keyframe; the ones before it are not recordable alone
            template = source.template_stream
            writer = self._open_segment(packet.wall_ms, lambda path, rel: SegmentWriter.copying(path, rel, template))
            if writer is None:
                return
            self._writer = writer
            self._writer_generation = packet.generation
        try:
            writer.add_packet(packet.packet, packet.mono_s, packet.wall_ms)
        except (av.FFmpegError, OSError) as err:
            self._write_failed(err)
            return
        self._n.frames_recorded += 1

    # -- segment files -------------------------------------------------------------------------------------------

    def _open_segment(self, wall_ms: int, make: Callable[[Path, str], SegmentWriter]) -> SegmentWriter | None:
        if self._space.ram_below_floor():
            self._space.pause(f"RAM directory {self._ram_dir} below its free-space floor")
            return None
        when = datetime.fromtimestamp(wall_ms / 1000, tz=UTC)
        stem = f"{self._name}-{when:%Y%m%d-%H%M%S}-{wall_ms % 1000:03d}"
        relative = f"{when:%Y-%m-%d}/{stem}.mp4"
        try:
            return make(self._ram_dir / f"{stem}.mp4", relative)
        except (av.FFmpegError, OSError) as err:
            self._write_failed(err)
            return None

    def _write_failed(self, err: Exception) -> None:
        self.discard()
        if is_disk_full(err):
            self._space.pause_ram_full()
        else:
            self._n.last_error = f"segment write failed: {err}"
            logger.error("camera %s: segment write failed: %s", self._name, err)

    def close_after_gap(self, last_input_s: float | None) -> None:
        """Close the open segment when nothing came from the camera since ``last_input_s`` for ``gap_close_s``."""
        writer = self._writer
        if (
            writer is not None
            and last_input_s is not None
            and time.monotonic() - last_input_s > self._settings.gap_close_s
        ):
            # Close now so that the footage up to the drop-out is available for clips while the camera is away.
            self.close_segment(None)

    def discard(self) -> None:
        """Drop whatever is being written (it cannot be stored) and the encoder's frames in flight."""
        self._encoder = None
        self._inflight.clear()
        for writer in (self._writer, self._closing[0] if self._closing else None):
            if writer is not None:
                writer.abort()
                self._n.count_lost()
        self._writer = None
        self._closing = None

    def close_segment(self, end_wall_ms: int | None) -> None:
        """Close the open segment ending at ``end_wall_ms`` (None: after its last frame), flushing the encoder."""
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            try:
                for packet in encoder.flush():
                    self._route(packet)
            except (av.FFmpegError, OSError) as err:
                logger.warning("camera %s: flushing the encoder failed: %s", self._name, err)
            self._inflight.clear()
        self._finish_closing()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._close_writer(writer, end_wall_ms)

    def _finish_closing(self) -> None:
        if self._closing is not None:
            writer, end_wall_ms = self._closing
            self._closing = None
            self._close_writer(writer, end_wall_ms)

    def _close_writer(self, writer: SegmentWriter, end_wall_ms: int | None) -> None:
        try:
            closed = writer.close(end_wall_ms, 1.0 / self._nominal_fps())
        except (av.FFmpegError, OSError) as err:
            writer.abort()
            self._n.count_lost()
            if is_disk_full(err):
                self._space.pause_ram_full()
            else:
                logger.exception("camera %s: closing segment failed", self._name)
            return
        if closed is not None:
            self._hand_over(closed)
