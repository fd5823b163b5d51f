"""What a camera source hands the recorder: decoded frames, or encoded packets for stream copy.

Times come in two clocks on purpose. ``wall_ms`` (Unix epoch milliseconds) is what people see in the overlay and
what segment and clip times are expressed in; ``mono_s`` (``time.monotonic``) measures durations, so that a clock
step by NTP on a Pi without RTC never stretches or squeezes the video.
"""

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
