"""The continuous recorder: camera → overlay → H.264 → short fragmented-MP4 segments → storage.

Threads (all blocking work stays off the station's event loop, DESIGN §3):

- ``camera-read-NAME`` (cameras that deliver pictures: USB, ``sim://``) opens the source, reads its frames into
  a short queue (``frame_queue`` frames, 4 by default: about 130 ms at 30 fps) and closes the source. It does
  nothing else, so it is there whenever the camera has a frame, and a short stall of the recorder thread (a
  segment boundary, a busy CPU) makes frames wait instead of losing them. A longer stall drops the oldest
  waiting frame, so memory stays bounded (at most ``frame_queue`` pictures) and the delay stays short.
- ``camera-rec-NAME`` takes the frames, keeps the newest (photos, health), burns the overlay in, encodes, cuts
  segments and closes them in the RAM directory. For an RTSP camera it reads and copies packets instead of
  encoding. Frames lost on the way (the camera moved on, or the queue was full) show as ``Frame.seq`` jumps
  and are counted in ``frames_dropped``.
- ``camera-store-NAME`` hashes each closed segment, moves it from the RAM directory to storage, and then calls
  ``on_segment(SegmentInfo)``, in segment order. **``on_segment`` runs on this thread**: it must not block for
  long; the station hands it to its loop (``loop.call_soon_threadsafe``). Keeping the SD card's write latency
  on its own thread is what lets capture run without hiccups at segment boundaries.
- ``on_alert(CameraHealth)`` runs on the recorder thread whenever the set of alerts changes; same rule.

Why a RAM directory (``ram_dir``, e.g. ``/dev/shm/packing-station/cam1``): the muxer writes a segment in many
small pieces; an SD card wears and stalls under that. Closed segments move to ``segment_dir`` in one write.

A full RAM directory or storage (below its free-space floor, or ENOSPC) pauses recording cleanly: the current
segment is discarded, ``storage_full`` is raised, capture goes on (photos and health still work), and every
``storage_retry_s`` the recorder checks whether retention made room and resumes.

Typical use (the station builds one per camera in its composition root)::

    recorder = Recorder(open_camera(url), "/var/lib/station/video", ram_dir="/dev/shm/station/cam1",
                        segment_s=4, on_segment=handle_segment, on_alert=handle_alert)
    recorder.start()
    recorder.set_overlay(order_id="SO1", packer="OP-7", bench="B3")   # any thread
    photo = recorder.take_photo(Path("photos/SO1-1.jpg"))            # blocking: from an executor
    recorder.stop()                                                   # flushes the open segment
"""

import logging
import queue
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drivers.cameras.encoder import EncoderSettings, FrameEncoder, choose_encoder
from drivers.cameras.errors import CameraConfigError, NoFrameError, is_disk_full
from drivers.cameras.files import DirectoryStore, SegmentStore, sha256_file
from drivers.cameras.frames import EncodedPacket, Frame, Image, wall_ms_now
from drivers.cameras.health import CameraAlert, CameraHealth, FrameMeter, FreezeDetector, HealthThresholds
from drivers.cameras.overlay import Overlay, OverlayPainter, warm_up_text
from drivers.cameras.photos import PhotoInfo, write_photo
from drivers.cameras.segments import ClosedSegment, SegmentInfo, SegmentWriter
from drivers.cameras.sources.base import CameraSource, FrameSource, PacketSource

logger = logging.getLogger(__name__)

MIN_SEGMENT_S = 2.0
MAX_SEGMENT_S = 10.0
_READ_TIMEOUT_S = 0.25
_HEALTH_EVERY_S = 0.25
_DEFAULT_SEGMENT_BYTES = 4 << 20
_READER_JOIN_S = 10.0


class RecorderSettings(BaseModel):
    """Everything about recording that is not in :class:`Recorder`'s own arguments; defaults suit a Pi 4."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keyframe_interval_s: float = Field(1.0, ge=0.2, le=10, description="Keyframe spacing: clip start precision.")
    crf: int = Field(23, ge=0, le=51, description="libx264 quality (lower is better and bigger).")
    bitrate_kbps: int = Field(0, ge=0, description="Target bit rate; 0: CRF for libx264, size-based for hardware.")
    overlay: bool = Field(True, description="Burn time, bench, packer and order into encoded frames.")
    font_path: str | None = Field(None, description="A CJK font for Chinese overlay text.")
    ram_min_free_bytes: int = Field(32 << 20, ge=0, description="Free-space floor of the RAM directory.")
    storage_min_free_bytes: int = Field(256 << 20, ge=0, description="Free-space floor of segment storage.")
    storage_retry_s: float = Field(30.0, gt=0, description="How often to check for room while storage is full.")
    gap_close_s: float = Field(1.0, gt=0, description="Close the open segment after this long without frames.")
    photo_max_age_s: float = Field(2.0, gt=0, description="Refuse a photo from a frame older than this.")
    frame_queue: int = Field(4, ge=1, le=30, description="Frames that may wait for the encoder; then the oldest goes.")
    jpeg_quality: int = Field(90, ge=10, le=100)
    no_frames_after_s: float = Field(5.0, gt=0)
    frozen_after_s: float = Field(10.0, gt=0)
    freeze_diff: float = Field(0.05, ge=0)
    freeze_sample_s: float = Field(0.5, gt=0)
    behind_window_s: float = Field(10.0, gt=0)
    behind_drop_ratio: float = Field(0.05, ge=0, le=1)

    def thresholds(self) -> HealthThresholds:
        """The health thresholds among these settings."""
        return HealthThresholds(
            no_frames_after_s=self.no_frames_after_s,
            frozen_after_s=self.frozen_after_s,
            freeze_diff=self.freeze_diff,
            freeze_sample_s=self.freeze_sample_s,
            behind_window_s=self.behind_window_s,
            behind_drop_ratio=self.behind_drop_ratio,
        )


@dataclass
class _Counters:
    """What the recorder has done so far (written by both threads; ``pending`` under the count lock)."""

    frames_captured: int = 0
    frames_recorded: int = 0
    frames_dropped: int = 0
    segments_stored: int = 0
    segments_lost: int = 0
    bytes_stored: int = 0
    pending: int = 0


class _FrameQueue:
    """Frames from the reader thread to the recorder thread: at most ``depth``, the oldest dropped when full.

    The reader's error, if its source raised, is handed over too and raised in the recorder thread after the
    frames read before it.
    """

    def __init__(self, depth: int) -> None:
        self._frames: deque[Frame] = deque()
        self._depth = depth
        self._error: Exception | None = None
        self._cond = threading.Condition()

    def put(self, frame: Frame) -> None:
        with self._cond:
            if len(self._frames) >= self._depth:
                self._frames.popleft()  # its number is skipped: the recorder counts it as dropped
            self._frames.append(frame)
            self._cond.notify()

    def fail(self, error: Exception) -> None:
        with self._cond:
            self._error = error
            self._cond.notify()

    def get(self, timeout_s: float) -> Frame | None:
        """The oldest waiting frame, waiting up to ``timeout_s``; None when none came. Raises the reader's error."""
        with self._cond:
            if not self._frames and self._error is None:
                self._cond.wait(timeout_s)
            if self._frames:
                return self._frames.popleft()
            if self._error is not None:
                raise self._error
            return None


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


class Recorder:
    """Continuous recording of one camera into segments, with photos and health (see the module docstring)."""

    def __init__(
        self,
        source: CameraSource,
        segment_dir: str | Path,
        ram_dir: str | Path | None = None,
        segment_s: float = 4.0,
        encoder: str = "auto",
        on_segment: Callable[[SegmentInfo], None] | None = None,
        *,
        on_alert: Callable[[CameraHealth], None] | None = None,
        settings: RecorderSettings | None = None,
        store: SegmentStore | None = None,
        name: str = "cam",
    ) -> None:
        """Set up; nothing runs before :meth:`start`.

        ``segment_s`` (2-10) is the target segment length: frame sources cut exactly there, stream copy cuts
        at the first camera keyframe after it. ``encoder`` is ``auto``, ``libx264`` or ``h264_v4l2m2m``
        (ignored for stream copy). ``store`` replaces the default :class:`DirectoryStore` on ``segment_dir``
        (tests inject a full disk this way). ``name`` prefixes segment file names.
        """
        if not MIN_SEGMENT_S <= segment_s <= MAX_SEGMENT_S:
            raise CameraConfigError(f"segment_s must be between {MIN_SEGMENT_S} and {MAX_SEGMENT_S}, not {segment_s}")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
            raise CameraConfigError(f"camera name {name!r}: use 1-32 letters, digits, - or _")
        self._source = source
        self._settings = settings or RecorderSettings()
        self._thresholds = self._settings.thresholds()
        self._segment_dir = Path(segment_dir)
        self._store = store or DirectoryStore(self._segment_dir, min_free_bytes=self._settings.storage_min_free_bytes)
        self._ram_dir = Path(ram_dir) if ram_dir is not None else self._segment_dir / ".recording"
        self._segment_s = float(segment_s)
        self._encoder_wanted = encoder
        self._on_segment = on_segment
        self._on_alert = on_alert
        self._name = name

        self._lock = threading.Lock()  # guards _latest's pixels while the overlay is burned in and restored
        self._count_lock = threading.Lock()  # counters written by both threads
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store_thread: threading.Thread | None = None
        self._queue: queue.Queue[ClosedSegment | None] = queue.Queue()

        self._overlay = Overlay()
        self._latest: Frame | None = None
        self._last_input_s: float | None = None
        self._started_s: float | None = None
        self._freeze = FreezeDetector(self._thresholds.freeze_sample_s, self._thresholds.freeze_diff)
        self._meter = FrameMeter(self._thresholds.behind_window_s)
        self._painter: OverlayPainter | None = None
        self._band_saved: Image = np.empty((0, 0, 3), dtype=np.uint8)  # the overlay band's clean pixels
        self._encoder_name: str | None = None
        self._encoder: FrameEncoder | None = None
        self._pts_origin_s = 0.0
        self._last_pts = -1
        self._inflight: dict[int, tuple[float, int]] = {}  # pts -> (mono_s, wall_ms) of frames in the encoder
        self._writer: SegmentWriter | None = None
        self._writer_start_pts = 0
        self._closing: tuple[SegmentWriter, int] | None = None  # the previous segment, until its last packet
        self._writer_generation = 0
        self._last_seq: int | None = None

        self._n = _Counters()
        self._largest_segment = _DEFAULT_SEGMENT_BYTES
        self._storage_full_reason: str | None = None
        self._storage_retry_at_s = 0.0
        self._last_error: str | None = None
        self._failed: str | None = None
        self._alerts: frozenset[CameraAlert] = frozenset()
        self._next_health_s = 0.0

    # -- life cycle -------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while the recorder thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the recorder and storage threads (the source is opened on the reader or recorder thread)."""
        if self._thread is not None:
            raise RuntimeError("recorder already started")
        self._ram_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self._ram_dir.glob(f"{self._name}-*.mp4"):
            # A segment left by a crash or power cut was never indexed; its times are unknown.
            logger.warning("camera %s: removing unfinished segment %s", self._name, leftover)
            leftover.unlink(missing_ok=True)
        self._stop.clear()
        self._started_s = time.monotonic()
        self._store_thread = threading.Thread(target=self._store_loop, name=f"camera-store-{self._name}", daemon=True)
        self._thread = threading.Thread(target=self._record_loop, name=f"camera-rec-{self._name}", daemon=True)
        self._store_thread.start()
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Close the open segment cleanly, stop both threads, and return once ``on_segment`` saw every segment.

        Takes up to the source's read timeout (an RTSP read in progress) plus the last segment's move.
        """
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.error("camera %s: recorder thread did not stop within %.0f s", self._name, timeout_s)
        store_thread, self._store_thread = self._store_thread, None
        if store_thread is not None:
            self._queue.put(None)
            store_thread.join(timeout_s)

    # -- what the station calls ----------------------------------------------------------------------------------

    def set_overlay(self, *, order_id: str | None = None, packer: str | None = None, bench: str | None = None) -> None:
        """Replace the overlay text (all three fields; None leaves a field out). Thread-safe, cheap."""
        self._overlay = Overlay(order_id=order_id, packer=packer, bench=bench)

    @property
    def overlay(self) -> Overlay:
        """The overlay text in use."""
        return self._overlay

    @property
    def latest_frame_age_s(self) -> float | None:
        """Seconds since the camera last delivered a frame (or packet); None before the first one."""
        last = self._last_input_s
        return None if last is None else max(0.0, time.monotonic() - last)

    def latest_frame(self) -> Frame | None:
        """A copy of the newest picture, without overlay (for a live view); None before the first one."""
        with self._lock:
            frame = self._latest
            if frame is None:
                return None
            return Frame(image=frame.image.copy(), wall_ms=frame.wall_ms, mono_s=frame.mono_s, seq=frame.seq)

    def take_photo(self, path: str | Path, overlay: Overlay | None = None) -> PhotoInfo:
        """Store the newest frame as a JPEG at ``path`` with ``overlay`` (default: the current one) burned in.

        Blocking (JPEG encoding and an fsync): call it from an executor. Raises :class:`NoFrameError` when
        the newest frame is older than ``photo_max_age_s`` or the picture is frozen: such a photo would not
        show the box as packed.
        """
        frame = self.latest_frame()
        now = time.monotonic()
        if frame is None or now - frame.mono_s > self._settings.photo_max_age_s:
            raise NoFrameError(f"camera {self._name}: no fresh frame for a photo")
        if self._freeze.frozen_for_s() >= self._thresholds.frozen_after_s:
            raise NoFrameError(f"camera {self._name}: picture frozen, no photo taken")
        return write_photo(
            frame,
            Path(path),
            overlay if overlay is not None else self._overlay,
            quality=self._settings.jpeg_quality,
            font_path=self._settings.font_path,
        )

    def health(self) -> dict[str, object]:
        """The health snapshot as a JSON-ready dict (see :class:`CameraHealth`). Thread-safe."""
        return self.health_state().as_dict()

    def health_state(self) -> CameraHealth:
        """The health snapshot, typed. Thread-safe."""
        now = time.monotonic()
        thresholds = self._thresholds
        alerts: set[CameraAlert] = set()
        age = self.latest_frame_age_s
        running = self.running
        frozen_for_s = self._freeze.frozen_for_s()
        fps, lost_ratio = self._meter.rates(now)
        if running:
            since = age if age is not None else now - (self._started_s or now)
            if since > thresholds.no_frames_after_s:
                alerts.add(CameraAlert.NO_FRAMES)
            if frozen_for_s >= thresholds.frozen_after_s:
                alerts.add(CameraAlert.FROZEN)
            if lost_ratio > thresholds.behind_drop_ratio:
                alerts.add(CameraAlert.ENCODER_BEHIND)
        if self._storage_full_reason is not None:
            alerts.add(CameraAlert.STORAGE_FULL)
        if self._failed is not None:
            alerts.add(CameraAlert.RECORDER_FAILED)
        encoder = "copy" if self._source.delivers_packets else self._encoder_name
        return CameraHealth(
            alerts=frozenset(alerts),
            running=running,
            recording=running and self._storage_full_reason is None and self._failed is None,
            source=self._source.status(),
            encoder=encoder,
            latest_frame_age_s=age,
            frozen_for_s=frozen_for_s,
            fps=fps,
            frames_captured=self._n.frames_captured,
            frames_encoded=self._n.frames_recorded,
            frames_dropped=self._n.frames_dropped,
            segments_stored=self._n.segments_stored,
            segments_lost=self._n.segments_lost,
            bytes_stored=self._n.bytes_stored,
            pending_segments=self._n.pending,
            storage_full_reason=self._storage_full_reason,
            last_error=self._failed or self._last_error,
        )

    # -- the recorder thread -------------------------------------------------------------------------------------

    def _record_loop(self) -> None:
        source = self._source
        reader: threading.Thread | None = None
        reader_done = threading.Event()
        try:
            if source.delivers_packets and isinstance(source, PacketSource):
                source.start()
                while not self._stop.is_set():
                    self._step_packets(source)
                    self._check_health()
            elif isinstance(source, FrameSource):
                # Probed before the camera starts, so that the probe's cost is not paid on a frame's time.
                self._encoder_name = choose_encoder(self._encoder_wanted)
                if self._settings.overlay:
                    warm_up_text()
                frames = _FrameQueue(self._settings.frame_queue)
                reader = threading.Thread(
                    target=self._read_loop, args=(source, frames, reader_done), name=f"camera-read-{self._name}"
                )
                reader.daemon = True
                reader.start()
                while not self._stop.is_set():
                    self._step_frames(frames)
                    self._check_health()
                reader_done.set()
                reader.join(_READER_JOIN_S)
                # Frames the camera delivered before the stop still belong in the last segment.
                while (frame := frames.get(0)) is not None:
                    self._take_frame(frame)
            else:
                self._failed = f"{source!r} is neither a frame nor a packet source"
        except Exception as err:
            # A bug, not camera trouble (that is handled where it happens): report it loudly and stop.
            logger.exception("camera %s: recorder failed", self._name)
            self._failed = f"{type(err).__name__}: {err}"
        finally:
            self._close_segment(None)
            if reader is not None:
                reader_done.set()  # the reader closes the source
                reader.join(_READER_JOIN_S)
            else:
                self._close_source(source)
            self._check_health(force=True)

    def _read_loop(self, source: FrameSource, frames: _FrameQueue, done: threading.Event) -> None:
        """The reader thread: open the source, queue its frames until ``done``, close it."""
        try:
            source.start()
            while not done.is_set():
                frame = source.read(_READ_TIMEOUT_S)
                if frame is not None:
                    frames.put(frame)
        except Exception as err:
            frames.fail(err)  # raised in the recorder thread, which reports it
        finally:
            self._close_source(source)

    def _close_source(self, source: CameraSource) -> None:
        try:
            source.close()
        except Exception:
            logger.exception("camera %s: error while closing the source", self._name)

    def _step_frames(self, frames: _FrameQueue) -> None:
        frame = frames.get(_READ_TIMEOUT_S)
        if frame is None:
            self._close_after_gap()
            return
        self._take_frame(frame)

    def _take_frame(self, frame: Frame) -> None:
        lost = 0
        if self._last_seq is not None and frame.seq > self._last_seq + 1:
            lost = frame.seq - self._last_seq - 1
        self._last_seq = frame.seq
        self._n.frames_captured += 1
        self._n.frames_dropped += lost
        self._meter.add(frame.mono_s, lost)
        with self._lock:
            self._latest = frame
        self._last_input_s = frame.mono_s
        self._freeze.update(frame.image, frame.mono_s)
        if self._recording_allowed():
            self._record_frame(frame)

    def _record_frame(self, frame: Frame) -> None:
        writer = self._writer
        if writer is not None and (frame.width, frame.height) != (writer.width, writer.height):
            logger.warning("camera %s: picture size changed to %dx%d", self._name, frame.width, frame.height)
            self._close_segment(None)
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
                self._close_segment(None)
                return
            self._writer = writer
            self._writer_start_pts = pts
        self._last_pts = pts
        self._inflight[pts] = (frame.mono_s, frame.wall_ms)
        image = frame.image
        if self._settings.overlay:
            painter = self._painter
            if painter is None or painter.size != (frame.width, frame.height):
                painter = self._painter = OverlayPainter(frame.width, frame.height, font_path=self._settings.font_path)
                self._band_saved = np.empty_like(image[: painter.band_rows])
            rows = painter.band_rows
            saved = self._band_saved
            with self._lock:
                # Burn in, copy out, restore: the newest frame stays clean for photos with their own overlay.
                np.copyto(saved, image[:rows])
                painter.paint(image, self._overlay, frame.wall_ms)
                video_frame = encoder.frame_for(image)
                np.copyto(image[:rows], saved)
        else:
            video_frame = encoder.frame_for(image)
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
        if len(self._inflight) > 64:
            self._inflight.clear()  # frames an encoder dropped; never more than a few in flight otherwise
        if self._closing is not None:
            if self._writer is None or pts < self._writer_start_pts:
                self._closing[0].add_packet(packet, *timing)
                return
            self._finish_closing()
        if self._writer is not None:
            self._writer.add_packet(packet, *timing)
            self._n.frames_recorded += 1

    def _new_encoder(self, frame: Frame) -> FrameEncoder:
        name = self._encoder_name or choose_encoder(self._encoder_wanted)
        self._encoder_name = name
        fps = self._nominal_fps()
        settings = EncoderSettings(
            name="libx264" if name == "libx264" else "h264_v4l2m2m",
            keyframe_interval=max(1, round(fps * self._settings.keyframe_interval_s)),
            crf=self._settings.crf,
            bitrate_kbps=self._settings.bitrate_kbps,
        )
        return FrameEncoder(settings, frame.width, frame.height, fps)

    def _nominal_fps(self) -> float:
        fps = self._source.status().fps
        return fps if fps > 0 else 30.0

    def _step_packets(self, source: PacketSource) -> None:
        packet = source.read_packet(_READ_TIMEOUT_S)
        if packet is None:
            self._close_after_gap()
            return
        self._n.frames_captured += 1
        self._meter.add(packet.mono_s, 0)
        self._last_input_s = packet.mono_s
        latest = source.latest_frame()
        if latest is not None and latest is not self._latest:
            with self._lock:
                self._latest = latest
            self._freeze.update(latest.image, latest.mono_s)
        if self._recording_allowed():
            self._record_packet(packet, source)

    def _record_packet(self, packet: EncodedPacket, source: PacketSource) -> None:
        writer = self._writer
        if writer is not None and packet.generation != self._writer_generation:
            self._close_segment(None)
            writer = None
        if (
            writer is not None
            and packet.keyframe
            and writer.first_mono_s is not None
            and packet.mono_s - writer.first_mono_s >= self._segment_s
        ):
            self._close_segment(packet.wall_ms)
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

    def _open_segment(self, wall_ms: int, make: Callable[[Path, str], SegmentWriter]) -> SegmentWriter | None:
        if _free_bytes(self._ram_dir) < self._settings.ram_min_free_bytes + self._largest_segment:
            self._enter_storage_full(f"RAM directory {self._ram_dir} below its free-space floor")
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
        self._discard()
        if is_disk_full(err):
            self._enter_storage_full(f"RAM directory {self._ram_dir} full")
        else:
            self._last_error = f"segment write failed: {err}"
            logger.error("camera %s: segment write failed: %s", self._name, err)

    def _close_after_gap(self) -> None:
        writer = self._writer
        last = self._last_input_s
        if writer is not None and last is not None and time.monotonic() - last > self._settings.gap_close_s:
            # Close now so that the footage up to the drop-out is available for clips while the camera is away.
            self._close_segment(None)

    def _discard(self) -> None:
        """Drop whatever is being written (it cannot be stored) and the encoder's frames in flight."""
        self._encoder = None
        self._inflight.clear()
        for writer in (self._writer, self._closing[0] if self._closing else None):
            if writer is not None:
                writer.abort()
                self._count_lost()
        self._writer = None
        self._closing = None

    def _close_segment(self, end_wall_ms: int | None) -> None:
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
            self._count_lost()
            if is_disk_full(err):
                self._enter_storage_full(f"RAM directory {self._ram_dir} full")
            else:
                logger.exception("camera %s: closing segment failed", self._name)
            return
        if closed is not None:
            with self._count_lock:
                self._n.pending += 1
            self._queue.put(closed)

    def _count_lost(self) -> None:
        with self._count_lock:
            self._n.segments_lost += 1

    def _enter_storage_full(self, reason: str) -> None:
        if self._storage_full_reason is None:
            logger.error("camera %s: recording paused: %s", self._name, reason)
        self._storage_full_reason = reason
        self._storage_retry_at_s = time.monotonic() + self._settings.storage_retry_s

    def _recording_allowed(self) -> bool:
        if self._storage_full_reason is None:
            return True
        if self._writer is not None or self._closing is not None:
            # Whatever is open cannot be stored either: drop it rather than fill the RAM directory.
            self._discard()
        if time.monotonic() < self._storage_retry_at_s:
            return False
        needed = 2 * self._largest_segment
        ram_ok = _free_bytes(self._ram_dir) >= self._settings.ram_min_free_bytes + needed
        try:
            store_ok = self._store.free_bytes() >= needed
        except OSError:
            store_ok = False
        if ram_ok and store_ok:
            logger.warning("camera %s: room again, recording resumed", self._name)
            self._storage_full_reason = None
            return True
        self._storage_retry_at_s = time.monotonic() + self._settings.storage_retry_s
        return False

    def _check_health(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_health_s:
            return
        self._next_health_s = now + _HEALTH_EVERY_S
        state = self.health_state()
        if state.alerts == self._alerts:
            return
        raised, cleared = state.alerts - self._alerts, self._alerts - state.alerts
        self._alerts = state.alerts
        for alert in sorted(raised):
            logger.warning("camera %s: alert %s raised", self._name, alert.value)
        for alert in sorted(cleared):
            logger.info("camera %s: alert %s cleared", self._name, alert.value)
        if self._on_alert is not None:
            try:
                self._on_alert(state)
            except Exception:
                logger.exception("camera %s: on_alert callback failed", self._name)

    # -- the storage thread ----------------------------------------------------------------------------------------

    def _store_loop(self) -> None:
        while True:
            closed = self._queue.get()
            if closed is None:
                return
            try:
                self._store_one(closed)
            finally:
                with self._count_lock:
                    self._n.pending -= 1

    def _store_one(self, closed: ClosedSegment) -> None:
        if not self._intact(closed):
            return
        try:
            size = closed.tmp_path.stat().st_size
            digest = sha256_file(closed.tmp_path)
            final = self._store.commit(closed.tmp_path, closed.relative)
        except OSError as err:
            closed.tmp_path.unlink(missing_ok=True)
            self._count_lost()
            if is_disk_full(err):
                self._enter_storage_full(f"segment storage full: {err}")
            else:
                self._last_error = f"storing segment failed: {err}"
                logger.exception("camera %s: storing %s failed", self._name, closed.relative)
            return
        self._largest_segment = max(self._largest_segment, size)
        self._n.segments_stored += 1
        self._n.bytes_stored += size
        info = SegmentInfo(
            path=final,
            start_wall_ms=closed.start_wall_ms,
            end_wall_ms=closed.end_wall_ms,
            frames=closed.frames,
            bytes=size,
            sha256=digest,
            width=closed.width,
            height=closed.height,
        )
        logger.debug("camera %s: segment %s stored (%d frames, %d bytes)", self._name, final, closed.frames, size)
        if self._on_segment is not None:
            try:
                self._on_segment(info)
            except Exception:
                logger.exception("camera %s: on_segment callback failed", self._name)

    def _intact(self, closed: ClosedSegment) -> bool:
        """Check that the file holds every frame written: a failed final flush is not reported by the muxer.

        (libavformat records a write error at close without returning it, so a segment cut short by a full
        RAM directory would otherwise be stored and hashed as if whole.) Demuxing a few MB in RAM is cheap.
        """
        packets = -1
        try:
            with av.open(str(closed.tmp_path), "r") as container:
                packets = sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
        except (av.FFmpegError, OSError, IndexError) as err:
            logger.debug("camera %s: %s unreadable: %s", self._name, closed.tmp_path, err)
        if packets == closed.frames:
            return True
        closed.tmp_path.unlink(missing_ok=True)
        self._count_lost()
        if _free_bytes(self._ram_dir) < self._settings.ram_min_free_bytes + self._largest_segment:
            self._enter_storage_full(f"RAM directory {self._ram_dir} full")
        else:
            self._last_error = f"segment {closed.relative} damaged: {packets} of {closed.frames} frames"
            logger.error("camera %s: %s", self._name, self._last_error)
        return False

    def __repr__(self) -> str:
        """Name and source, for logs."""
        return f"<Recorder {self._name} {self._source.url}>"
