"""The reader thread of a camera that delivers pictures: its frames into a short queue for the recorder thread.

``camera-read-NAME`` (USB, ``sim://``) opens the source, reads its frames into a short queue (``frame_queue``
frames, 4 by default: about 130 ms at 30 fps) and closes the source. It does nothing else, so it is there
whenever the camera has a frame, and a short stall of the recorder thread (a segment boundary, a busy CPU) makes
frames wait instead of losing them. A longer stall drops the oldest waiting frame, so memory stays bounded (at
most ``frame_queue`` pictures) and the delay stays short; the recorder sees the loss as a ``Frame.seq`` jump.
"""

import logging
import threading
from collections import deque

from drivers.cameras.frames import Frame
from drivers.cameras.sources.base import CameraSource, FrameSource

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.25
"""How long one read of a source waits, so that a thread reading it notices a stop this often."""
_READER_JOIN_S = 10.0


def close_source(source: CameraSource, name: str) -> None:
    """Close ``source`` of camera ``name``; an error is logged, never raised (the recorder is stopping)."""
    try:
        source.close()
    except Exception:
        logger.exception("camera %s: error while closing the source", name)


class FrameQueue:
    """Frames from the reader thread to the recorder thread: at most ``depth``, the oldest dropped when full.

    The reader's error, if its source raised, is handed over too and raised in the recorder thread after the
    frames read before it.
    """

    def __init__(self, depth: int) -> None:
        """An empty queue of at most ``depth`` frames."""
        self._frames: deque[Frame] = deque()
        self._depth = depth
        self._error: Exception | None = None
        self._cond = threading.Condition()

    def put(self, frame: Frame) -> None:
        """Queue a frame, dropping the oldest waiting one when full."""
        with self._cond:
            if len(self._frames) >= self._depth:
                self._frames.popleft()  # its number is skipped: the recorder counts it as dropped
            self._frames.append(frame)
            self._cond.notify()

    def fail(self, error: Exception) -> None:
        """Hand the reader's error over: :meth:`get` raises it once the frames before it are taken."""
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


class FrameReader:
    """The ``camera-read-NAME`` thread: opens the source, queues its frames in :attr:`frames`, closes the source."""

    def __init__(self, source: FrameSource, depth: int, name: str) -> None:
        """Set up the reader of ``source`` with a queue of ``depth`` frames; nothing runs before :meth:`start`."""
        self.frames = FrameQueue(depth)
        self._source = source
        self._name = name
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name=f"camera-read-{name}")
        self._thread.daemon = True

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def stop(self) -> None:
        """Tell the reader to stop and wait for it (it closes the source); frames read so far stay queued."""
        self._done.set()
        self._thread.join(_READER_JOIN_S)

    def _read_loop(self) -> None:
        source = self._source
        try:
            source.start()
            while not self._done.is_set():
                frame = source.read(READ_TIMEOUT_S)
                if frame is not None:
                    self.frames.put(frame)
        except Exception as err:
            self.frames.fail(err)  # raised in the recorder thread, which reports it
        finally:
            close_source(source, self._name)
