"""The storage thread: each closed segment checked whole, hashed, moved from the RAM directory to storage, reported.

``camera-store-NAME`` takes the segments the recorder thread closed, in order, and then calls
``on_segment(SegmentInfo)``. **``on_segment`` runs on this thread**: it must not block for long; the station
hands it to its loop (``loop.call_soon_threadsafe``). Keeping the SD card's write latency on its own thread is
what lets capture run without hiccups at segment boundaries.
"""

import logging
import queue
import threading
from collections.abc import Callable

import av

from drivers.cameras.errors import is_disk_full
from drivers.cameras.files import SegmentStore, sha256_file
from drivers.cameras.health import RecorderCounters
from drivers.cameras.segments import ClosedSegment, SegmentInfo
from drivers.cameras.space import SpaceGuard

logger = logging.getLogger(__name__)


class SegmentStorer:
    """The ``camera-store-NAME`` thread and its queue of closed segments (see the module docstring)."""

    def __init__(
        self,
        name: str,
        store: SegmentStore,
        space: SpaceGuard,
        counters: RecorderCounters,
        on_segment: Callable[[SegmentInfo], None] | None,
    ) -> None:
        """Store the segments of camera ``name`` in ``store``; nothing runs before :meth:`start`."""
        self._name = name
        self._store = store
        self._space = space
        self._n = counters
        self._on_segment = on_segment
        self._queue: queue.Queue[ClosedSegment | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the storage thread."""
        self._thread = threading.Thread(target=self._store_loop, name=f"camera-store-{self._name}", daemon=True)
        self._thread.start()

    def put(self, closed: ClosedSegment) -> None:
        """Queue a closed segment for storage (any thread; never blocks)."""
        self._n.segment_queued()
        self._queue.put(closed)

    def stop(self, timeout_s: float) -> None:
        """Store what is queued, then stop the thread; waits up to ``timeout_s``."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _store_loop(self) -> None:
        while True:
            closed = self._queue.get()
            if closed is None:
                return
            try:
                self._store_one(closed)
            finally:
                self._n.segment_done()

    def _store_one(self, closed: ClosedSegment) -> None:
        if not self._intact(closed):
            return
        try:
            size = closed.tmp_path.stat().st_size
            digest = sha256_file(closed.tmp_path)
            final = self._store.commit(closed.tmp_path, closed.relative)
        except OSError as err:
            closed.tmp_path.unlink(missing_ok=True)
            self._n.count_lost()
            if is_disk_full(err):
                self._space.pause(f"segment storage full: {err}")
            else:
                self._n.last_error = f"storing segment failed: {err}"
                logger.exception("camera %s: storing %s failed", self._name, closed.relative)
            return
        self._space.segment_stored(size)
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
        self._n.count_lost()
        if self._space.ram_below_floor():
            self._space.pause_ram_full()
        else:
            self._n.last_error = f"segment {closed.relative} damaged: {packets} of {closed.frames} frames"
            logger.error("camera %s: %s", self._name, self._n.last_error)
        return False
