"""The continuous recorder: camera → overlay → H.264 → short fragmented-MP4 segments → storage.

:class:`Recorder` is the entry callers use; it runs the recorder thread and wires the parts, each in its own
module. Threads (all blocking work stays off the station's event loop, docs/architecture.md, "Runtime shape"):

- ``camera-read-NAME`` (cameras that deliver pictures: USB, ``sim://``) reads the source's frames into a short
  queue so that a short stall of the recorder thread loses none (:mod:`drivers.cameras.capture`).
- ``camera-rec-NAME`` (here) takes the frames, keeps the newest (photos, health) and has them cut into segments
  in the RAM directory: overlay burned in, encoded, or for an RTSP camera the packets copied
  (:mod:`drivers.cameras.cutter`). Frames lost on the way (the camera moved on, or the queue was full) show as
  ``Frame.seq`` jumps and are counted in ``frames_dropped``.
- ``camera-store-NAME`` hashes each closed segment, moves it from the RAM directory to storage, and then calls
  ``on_segment(SegmentInfo)``, in segment order (:mod:`drivers.cameras.storing`). **``on_segment`` runs on this
  thread**: it must not block for long; the station hands it to its loop (``loop.call_soon_threadsafe``).
- ``on_alert(CameraHealth)`` runs on the recorder thread whenever the set of alerts changes; same rule
  (:class:`~drivers.cameras.health.AlertWatch`).

A full RAM directory or storage pauses recording cleanly while capture, photos and health go on, and recording
resumes once retention made room (:mod:`drivers.cameras.space`).

Typical use (the station builds one per camera in its composition root)::

    recorder = Recorder(open_camera(url), "/var/lib/station/video", ram_dir="/dev/shm/station/cam1",
                        segment_s=4, on_segment=handle_segment, on_alert=handle_alert)
    recorder.start()
    recorder.set_overlay(order_id="SO1", packer="OP-7", bench="B3")   # any thread
    photo = recorder.take_photo(Path("photos/SO1-1.jpg"))            # blocking: from an executor
    recorder.stop()                                                   # flushes the open segment
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.cameras.capture import READ_TIMEOUT_S, FrameQueue, FrameReader, close_source
from drivers.cameras.cutter import SegmentCutter
from drivers.cameras.errors import CameraConfigError, NoFrameError
from drivers.cameras.files import DirectoryStore, SegmentStore
from drivers.cameras.frames import Frame
from drivers.cameras.health import AlertWatch, CameraAlert, CameraHealth, FrameMeter, FreezeDetector, RecorderCounters
from drivers.cameras.overlay import Overlay, OverlayBurner, warm_up_text
from drivers.cameras.photos import PhotoInfo, write_photo
from drivers.cameras.recorder_settings import MAX_SEGMENT_S, MIN_SEGMENT_S, RecorderSettings
from drivers.cameras.segments import SegmentInfo
from drivers.cameras.sources.base import CameraSource, FrameSource, PacketSource
from drivers.cameras.space import SpaceGuard
from drivers.cameras.storing import SegmentStorer

__all__ = ["MAX_SEGMENT_S", "MIN_SEGMENT_S", "Recorder", "RecorderSettings"]

logger = logging.getLogger(__name__)


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
        segment_dir = Path(segment_dir)
        segment_store = store or DirectoryStore(segment_dir, min_free_bytes=self._settings.storage_min_free_bytes)
        ram_path = Path(ram_dir) if ram_dir is not None else segment_dir / ".recording"
        self._name = name

        self._lock = threading.Lock()  # guards _latest's pixels while the overlay is burned in and restored
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        self._overlay = Overlay()
        self._latest: Frame | None = None
        self._last_input_s: float | None = None
        self._started_s: float | None = None
        self._freeze = FreezeDetector(self._thresholds.freeze_sample_s, self._thresholds.freeze_diff)
        self._meter = FrameMeter(self._thresholds.behind_window_s)
        self._last_seq: int | None = None
        self._failed: str | None = None

        self._n = RecorderCounters()
        self._space = SpaceGuard(name, ram_path, segment_store, self._settings)
        self._storer = SegmentStorer(name, segment_store, self._space, self._n, on_segment)
        self._cutter = SegmentCutter(
            name=name,
            ram_dir=ram_path,
            segment_s=float(segment_s),
            encoder=encoder,
            settings=self._settings,
            status=source.status,
            overlay=lambda: self._overlay,
            burner=OverlayBurner(self._lock, font_path=self._settings.font_path),
            space=self._space,
            counters=self._n,
            hand_over=self._storer.put,
        )
        self._alert_watch = AlertWatch(name, on_alert)

    # -- life cycle -------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while the recorder thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the recorder and storage threads (the source is opened on the reader or recorder thread)."""
        if self._thread is not None:
            raise RuntimeError("recorder already started")
        self._cutter.prepare_ram_dir()
        self._stop.clear()
        self._started_s = time.monotonic()
        self._thread = threading.Thread(target=self._record_loop, name=f"camera-rec-{self._name}", daemon=True)
        self._storer.start()
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
        self._storer.stop(timeout_s)

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
        storage_full_reason = self._space.full_reason
        if storage_full_reason is not None:
            alerts.add(CameraAlert.STORAGE_FULL)
        if self._failed is not None:
            alerts.add(CameraAlert.RECORDER_FAILED)
        encoder = "copy" if self._source.delivers_packets else self._cutter.encoder_name
        return CameraHealth(
            alerts=frozenset(alerts),
            running=running,
            recording=running and storage_full_reason is None and self._failed is None,
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
            storage_full_reason=storage_full_reason,
            last_error=self._failed or self._n.last_error,
        )

    # -- the recorder thread -------------------------------------------------------------------------------------

    def _record_loop(self) -> None:
        source = self._source
        reader: FrameReader | None = None
        try:
            if source.delivers_packets and isinstance(source, PacketSource):
                source.start()
                while not self._stop.is_set():
                    self._step_packets(source)
                    self._check_health()
            elif isinstance(source, FrameSource):
                self._cutter.choose_encoder()
                if self._settings.overlay:
                    warm_up_text()
                reader = FrameReader(source, self._settings.frame_queue, self._name)
                reader.start()
                while not self._stop.is_set():
                    self._step_frames(reader.frames)
                    self._check_health()
                reader.stop()
                # Frames the camera delivered before the stop still belong in the last segment.
                while (frame := reader.frames.get(0)) is not None:
                    self._take_frame(frame)
            else:
                self._failed = f"{source!r} is neither a frame nor a packet source"
        except Exception as err:
            # A bug, not camera trouble (that is handled where it happens): report it loudly and stop.
            logger.exception("camera %s: recorder failed", self._name)
            self._failed = f"{type(err).__name__}: {err}"
        finally:
            self._cutter.close_segment(None)
            if reader is not None:
                reader.stop()  # the reader closes the source
            else:
                close_source(source, self._name)
            self._check_health(force=True)

    def _step_packets(self, source: PacketSource) -> None:
        packet = source.read_packet(READ_TIMEOUT_S)
        if packet is None:
            self._cutter.close_after_gap(self._last_input_s)
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
            self._cutter.record_packet(packet, source)

    def _step_frames(self, frames: FrameQueue) -> None:
        frame = frames.get(READ_TIMEOUT_S)
        if frame is None:
            self._cutter.close_after_gap(self._last_input_s)
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
            self._cutter.record_frame(frame)

    def _recording_allowed(self) -> bool:
        if not self._space.paused:
            return True
        if self._cutter.is_open:
            # Whatever is open cannot be stored either: drop it rather than fill the RAM directory.
            self._cutter.discard()
        return self._space.may_resume()

    def _check_health(self, *, force: bool = False) -> None:
        self._alert_watch.check(self.health_state, force=force)

    def __repr__(self) -> str:
        """Name and source, for logs."""
        return f"<Recorder {self._name} {self._source.url}>"
