"""What a camera source hands the recorder: decoded frames, or encoded packets for stream copy.

Times come in two clocks on purpose. ``wall_ms`` (Unix epoch milliseconds) is what people see in the overlay and
what segment and clip times are expressed in; ``mono_s`` (``time.monotonic``) measures durations, so that a clock
step by NTP on a Pi without RTC never stretches or squeezes the video.
"""

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""A BGR picture, shape (height, width, 3), as OpenCV uses."""


def wall_ms_now() -> int:
    """The wall clock in Unix epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture with its capture times.

    ``seq`` counts frames as the camera produced them: a jump of more than one between two frames a reader
    received means frames were produced and never read (the reader fell behind).
    """

    image: Image
    wall_ms: int
    mono_s: float
    seq: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One compressed H.264 access unit from a camera that encodes by itself (RTSP), for stream copy.

    ``packet`` is the PyAV packet as demuxed (its ``time_base``, ``pts`` and ``dts`` untouched).
    ``generation`` changes whenever the source reconnected: codec parameters may have changed, so the
    recorder starts a new segment at the next keyframe.
    """

    packet: Any
    wall_ms: int
    mono_s: float
    keyframe: bool
    generation: int


class BufferPool:
    """A few reusable picture buffers of one shape, so that a frame's working copies are not new memory each time.

    At 720p30 a fresh 1.4 MB array per frame for the colour conversion makes glibc keep freed frames in its
    arenas (its mmap threshold rises to the frame size after the first free), which grew the recorder by
    megabytes that were never handed back. A buffer from :meth:`take` is handed out again only once nothing
    but the pool refers to it: a PyAV frame made over it with ``VideoFrame.from_numpy_buffer`` holds a
    reference for as long as FFmpeg may read it (an encoder that queues frames, like ``h264_v4l2m2m``), so a
    buffer is never overwritten while in use. When all ``size`` buffers are busy, :meth:`take` returns a new
    array that the pool does not keep: memory stays bounded and nothing waits. Thread-safe.
    """

    def __init__(self, shape: tuple[int, ...], size: int = 3) -> None:
        """Keep at most ``size`` buffers of ``shape`` (uint8), made on first use."""
        if size < 1:
            raise ValueError("a buffer pool needs room for at least one buffer")
        self.shape = shape
        self.size = size
        self._buffers: list[Image] = []
        self._idle_refs = 0
        self._lock = threading.Lock()

    def take(self) -> Image:
        """A buffer of the pool's shape that nobody else holds; its content is whatever was there."""
        with self._lock:
            for index in range(len(self._buffers)):
                if self._refs(index) <= self._idle_refs:
                    return self._buffers[index]
            buffer: Image = np.empty(self.shape, dtype=np.uint8)
            if len(self._buffers) < self.size:
                self._buffers.append(buffer)
                del buffer
                index = len(self._buffers) - 1
                # Counted the same way as in the test above, on a buffer nobody else holds yet.
                self._idle_refs = self._refs(index)
                return self._buffers[index]
            return buffer

    @property
    def kept(self) -> int:
        """How many buffers the pool holds so far."""
        return len(self._buffers)

    def _refs(self, index: int) -> int:
        return sys.getrefcount(self._buffers[index])
