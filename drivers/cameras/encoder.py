"""Which H.264 encoder to use, the settings each one gets, and the encoder a recording keeps for its whole run.

``h264_v4l2m2m`` is the Pi 4's hardware encoder, reached through the V4L2 memory-to-memory device. Its codec is
compiled into most FFmpeg builds whether or not the hardware is there (a Pi 5 has none), so "present" is not
enough: :func:`probe_encoder` opens it and encodes one small frame, and only an encoder that returns a packet
counts. Otherwise ``libx264`` with ``preset=ultrafast`` and ``tune=zerolatency``: the cheapest software setting,
and no frame delay, so that a segment can be closed exactly where it should.

Memory: at 720p libx264 with these settings holds about 20 MB (its picture pool; the ``ffmpeg`` command line
needs the same), whatever its thread count, since ``zerolatency`` already means no lookahead (``rc-lookahead=0``,
``sync-lookahead=0``), no B-frames and sliced threads. What the recorder adds per frame is one I420 copy of the
picture, made into a small :class:`~drivers.cameras.frames.BufferPool` and handed to the encoder without a
further copy (:meth:`FrameEncoder.frame_for`).

One encoder serves a whole recording (:class:`FrameEncoder`): segments are cut by forcing a keyframe, not by
starting a new encoder, because opening an encoder costs a Pi tens of milliseconds, enough to lose a frame at
every segment boundary. The encoder writes its parameter sets (SPS/PPS) in-band with every keyframe rather than
in a global header, so that each segment file takes them from its own first packet.
"""

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import av
import cv2
import numpy as np
from av.video.frame import PictureType

from drivers.cameras.errors import CameraConfigError, EncoderUnavailable
from drivers.cameras.frames import BufferPool, Image

logger = logging.getLogger(__name__)

EncoderName = Literal["libx264", "h264_v4l2m2m"]
ENCODERS: tuple[EncoderName, ...] = ("h264_v4l2m2m", "libx264")
"""Known encoders, in the order ``auto`` tries them."""


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """How frames are encoded; the same settings for every segment of a recording."""

    name: EncoderName
    keyframe_interval: int
    crf: int = 23
    bitrate_kbps: int = 0

    def codec_options(self) -> dict[str, str]:
        """The options given to the FFmpeg encoder."""
        if self.name == "libx264":
            return {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "crf": str(self.crf),
                # A forced keyframe (segment start) is an IDR: decodable without anything before it.
                "forced-idr": "1",
                # No scene-cut keyframes: the keyframe grid stays where clip cutting expects it.
                "x264-params": f"keyint={self.keyframe_interval}:min-keyint={self.keyframe_interval}:scenecut=0",
            }
        return {}

    def bit_rate(self, width: int, height: int) -> int | None:
        """Target bit rate in bit/s for encoders that need one (the hardware one has no CRF mode)."""
        if self.name == "libx264" and not self.bitrate_kbps:
            return None
        if self.bitrate_kbps:
            return self.bitrate_kbps * 1000
        # About 0.1 bit per pixel at 30 fps: ~2.8 Mbit/s at 720p, enough to read labels on a box.
        return max(500_000, int(width * height * 30 * 0.1))


def probe_encoder(name: str, width: int = 320, height: int = 240) -> bool:
    """True when encoder ``name`` opens here and turns a frame into at least one packet."""
    try:
        context: Any = av.CodecContext.create(name, "w")
        context.width = width
        context.height = height
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, 30)
        context.framerate = Fraction(30, 1)
        context.bit_rate = 1_000_000
        context.open()
        frame = av.VideoFrame.from_ndarray(np.zeros((height * 3 // 2, width), dtype=np.uint8), format="yuv420p")
        frame.pts = 0
        packets = list(context.encode(frame)) + list(context.encode(None))
    except (av.FFmpegError, OSError, ValueError) as err:
        logger.info("encoder %s not usable here: %s", name, err)
        return False
    return bool(packets)


@functools.cache
def _probe_cached(name: str, width: int, height: int) -> bool:
    return probe_encoder(name, width, height)


def choose_encoder(wanted: str, width: int = 320, height: int = 240) -> EncoderName:
    """The encoder to use for ``wanted`` (``auto``, ``libx264`` or ``h264_v4l2m2m``) at this picture size.

    ``auto`` takes the first of :data:`ENCODERS` whose probe passes. A named encoder that fails its probe is
    an :class:`EncoderUnavailable`, not a silent fallback: the config asked for it.
    """
    if wanted == "auto":
        for name in ENCODERS:
            if _probe_cached(name, width, height):
                logger.info("encoder: %s chosen for %dx%d", name, width, height)
                return name
        raise EncoderUnavailable(f"no working H.264 encoder (tried {', '.join(ENCODERS)})")
    if wanted not in ENCODERS:
        raise CameraConfigError(f"unknown encoder {wanted!r}: auto, {', '.join(ENCODERS)}")
    if not _probe_cached(wanted, width, height):
        raise EncoderUnavailable(f"encoder {wanted} does not work on this machine")
    return "libx264" if wanted == "libx264" else "h264_v4l2m2m"


TIME_BASE = Fraction(1, 1000)
"""Encoder timestamps are milliseconds since the recording's first frame."""

_POOL_SIZE = 3
"""I420 buffers kept per encoder: libx264 copies a frame during ``encode`` (one buffer in use); the hardware
encoder may hold one or two while the next is prepared. More are made on demand and not kept."""


class FrameEncoder:
    """One open H.264 encoder for a run of frames of one size (not thread-safe)."""

    def __init__(self, settings: EncoderSettings, width: int, height: int, fps: float) -> None:
        """Open the encoder now, so that its start-up cost is not paid on a frame's time."""
        context: Any = av.CodecContext.create(settings.name, "w")
        context.width = width
        context.height = height
        context.pix_fmt = "yuv420p"
        context.time_base = TIME_BASE
        context.framerate = Fraction(fps).limit_denominator(1001)
        context.gop_size = settings.keyframe_interval
        bit_rate = settings.bit_rate(width, height)
        if bit_rate:
            context.bit_rate = bit_rate
        context.options = settings.codec_options()
        context.open()
        self._context = context
        self.settings = settings
        self.width = width
        self.height = height
        self._i420 = BufferPool((height * 3 // 2, width), size=_POOL_SIZE)

    def frame_for(self, image: Image) -> Any:
        """Like :meth:`prepare`, but the copy goes into one of this encoder's reused buffers.

        The PyAV frame refers to the buffer (no second copy) and keeps it from reuse while it is alive, so the
        caller may change ``image`` afterwards and simply drop the frame after :meth:`encode`.
        """
        height, width = image.shape[:2]
        if (width, height) != (self.width, self.height) or width % 2 or height % 2:
            return self.prepare(image)
        planes: Image = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._i420.take()), dtype=np.uint8)
        return av.VideoFrame.from_numpy_buffer(planes, format="yuv420p")

    @staticmethod
    def prepare(image: Image) -> Any:
        """A PyAV frame holding a fresh copy of the BGR ``image`` (the caller may change ``image`` afterwards)."""
        height, width = image.shape[:2]
        if width % 2 == 0 and height % 2 == 0:
            # OpenCV's SIMD conversion costs about a third of swscale's on this path.
            planes = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
            return av.VideoFrame.from_ndarray(planes, format="yuv420p")
        return av.VideoFrame.from_ndarray(image, format="bgr24")

    def encode(self, frame: Any, pts_ms: int, *, keyframe: bool) -> list[Any]:
        """Encode a frame from :meth:`prepare` at ``pts_ms``; ``keyframe`` forces an IDR. Returns packets."""
        frame.pts = pts_ms
        frame.time_base = TIME_BASE
        if keyframe:
            frame.pict_type = PictureType.I
        return self._packets(self._context.encode(frame))

    def flush(self) -> list[Any]:
        """The packets still inside the encoder; the encoder cannot be used afterwards."""
        return self._packets(self._context.encode(None))

    @staticmethod
    def _packets(packets: list[Any]) -> list[Any]:
        for packet in packets:
            packet.time_base = TIME_BASE
        return packets
