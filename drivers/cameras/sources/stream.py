"""Cameras that send H.264 themselves (RTSP, e.g. Hikvision ``rtsp://host/Streaming/Channels/101``), via PyAV.

The packets are handed to the recorder as they are, for stream copy: re-encoding a 1080p stream would cost a
Pi most of a core for nothing. Only some packets are decoded, for photos and for the frozen-picture check:
keyframes by default (``decode="keyframes"``, cheap: one picture per GOP, so set the camera's I-frame interval
to about one second), or every packet (``decode="all"``, for the freshest photo at the price of a full decode).

RTSP runs over TCP by default (UDP loses packets on a busy warehouse network and a lost packet corrupts the
picture until the next keyframe), with an open timeout and a read timeout; on any error or end of stream the
connection is closed and reopened with exponential backoff, and ``generation`` moves on so that the recorder
starts a new segment at the next keyframe.

The same class replays a local file (``file:///path/video.mp4``), paced at the file's timestamps, optionally
looping. The tests exercise the stream-copy path this way, since no RTSP server is at hand in CI: everything
from ``av.open`` on is the same code; only the protocol options differ.
"""

import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import av

from drivers.cameras.frames import EncodedPacket, Frame, wall_ms_now
from drivers.cameras.sources.base import SourceKind, SourceStatus
from drivers.urls import redact_text, redact_url

__all__ = ["StreamCamera", "StreamSettings", "redact_url"]  # redact_url: re-exported, where it used to live

logger = logging.getLogger(__name__)

# Camera clocks drift against ours by tens of ppm; past this, timestamps are re-anchored to our clock.
_MAX_CLOCK_SKEW_S = 1.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How to connect to an H.264 stream and what to decode of it."""

    url: str
    transport: Literal["tcp", "udp"] = "tcp"
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    decode: Literal["keyframes", "all"] = "keyframes"
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    realtime: bool = True
    loop: bool = False


class StreamCamera:
    """An RTSP camera (or a file replayed like one); a :class:`~drivers.cameras.sources.base.PacketSource`."""

    def __init__(self, settings: StreamSettings) -> None:
        """Make the source; nothing is opened before :meth:`start`."""
        self._settings = settings
        self._kind: SourceKind = "file" if self._is_file else "rtsp"
        self._closed = threading.Event()
        self._container: Any = None
        self._stream: Any = None
        self._packets: Iterator[Any] | None = None
        self._generation = 0
        self._failures = 0
        self._next_attempt_s = 0.0
        self._reconnects = 0
        self._last_error: str | None = None
        self._anchor: tuple[int, float, int] | None = None  # (pts, mono_s, wall_ms) of a reference packet
        self._resume_mono_s = 0.0
        self._latest: Frame | None = None
        self._decoded = 0
        self._started = False

    @property
    def _is_file(self) -> bool:
        return urllib.parse.urlsplit(self._settings.url).scheme in ("", "file")

    @property
    def url(self) -> str:
        """The stream URL, password removed."""
        return redact_url(self._settings.url)

    @property
    def kind(self) -> SourceKind:
        """``rtsp``, or ``file`` for a replayed file."""
        return self._kind

    @property
    def delivers_packets(self) -> bool:
        """True: packets are copied into segments, not re-encoded."""
        return True

    @property
    def template_stream(self) -> Any:
        """The PyAV input video stream of the current connection (None while disconnected)."""
        return self._stream

    def start(self) -> None:
        """Connect (blocking up to ``open_timeout_s``); a failure is retried by later reads, never raised."""
        self._closed.clear()
        self._started = True
        self._connect()

    def close(self) -> None:
        """Disconnect. Idempotent."""
        self._closed.set()
        self._started = False
        self._disconnect()

    def status(self) -> SourceStatus:
        """Connection state and what the stream carries."""
        stream = self._stream
        width = height = 0
        fps = 0.0
        if stream is not None:
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
        return SourceStatus(
            url=self.url,
            kind=self._kind,
            connected=stream is not None,
            width=width,
            height=height,
            fps=fps,
            reconnects=self._reconnects,
            last_error=self._last_error,
        )

    def latest_frame(self) -> Frame | None:
        """The newest decoded picture."""
        return self._latest

    def read_packet(self, timeout_s: float) -> EncodedPacket | None:
        """The next video packet; None on timeout, while reconnecting, or after the end of a non-looping file."""
        if not self._started:
            self._closed.wait(timeout_s)
            return None
        if self._packets is None:
            wait_s = self._next_attempt_s - time.monotonic()
            if wait_s > 0:
                self._closed.wait(min(timeout_s, wait_s))
                return None
            if not self._connect():
                return None
        assert self._packets is not None
        try:
            packet = next(self._packets, None)
        except (av.FFmpegError, OSError) as err:
            self._fail(f"read failed: {err}")
            return None
        if packet is None:
            if self._is_file:
                logger.info("camera %s: end of file", self.url)
                self._disconnect()
                if self._settings.loop:
                    self._connect()
                else:
                    self._started = False
                return None
            self._fail("end of stream")
            return None
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None or packet.size == 0:
            return None
        mono_s, wall_ms = self._times(pts, packet.time_base)
        if packet.duration:
            self._resume_mono_s = mono_s + float(packet.duration * packet.time_base)
        keyframe = bool(packet.is_keyframe)
        if keyframe or self._settings.decode == "all":
            self._decode(packet, mono_s, wall_ms)
        return EncodedPacket(
            packet=packet, wall_ms=wall_ms, mono_s=mono_s, keyframe=keyframe, generation=self._generation
        )

    def _times(self, pts: int, time_base: Any) -> tuple[float, int]:
        """Capture times of a packet from its timestamp, anchored to our clocks at the first packet."""
        now = time.monotonic()
        if self._anchor is None:
            # After a reconnect (or a replayed file's loop), time goes on from where the last frame ended.
            start_s = max(now, self._resume_mono_s)
            self._anchor = (pts, start_s, wall_ms_now() + round((start_s - now) * 1000))
        anchor_pts, anchor_mono, anchor_wall = self._anchor
        offset_s = float((pts - anchor_pts) * time_base)
        mono_s = anchor_mono + offset_s
        if self._is_file and self._settings.realtime and mono_s > now:
            # A file is replayed at its own pace, like a live camera would deliver it.
            self._closed.wait(mono_s - now)
        elif not self._is_file and abs(mono_s - now) > _MAX_CLOCK_SKEW_S:
            logger.debug("camera %s: clock skew %.2f s, re-anchoring", self.url, mono_s - now)
            self._anchor = (pts, now, wall_ms_now())
            return now, self._anchor[2]
        return mono_s, anchor_wall + round(offset_s * 1000)

    def _decode(self, packet: Any, mono_s: float, wall_ms: int) -> None:
        try:
            frames = self._stream.codec_context.decode(packet)
        except av.FFmpegError as err:
            # A damaged packet spoils one picture, not the recording: the copy path does not need it.
            logger.debug("camera %s: undecodable packet: %s", self.url, redact_text(str(err)))
            return
        for decoded in frames:
            self._decoded += 1
            image = decoded.to_ndarray(format="bgr24")
            self._latest = Frame(image=image, wall_ms=wall_ms, mono_s=mono_s, seq=self._decoded)

    def _connect(self) -> bool:
        settings = self._settings
        options: dict[str, str] = {}
        if not self._is_file:
            options = {
                "rtsp_transport": settings.transport,
                # libavformat's socket timeout, in microseconds; PyAV's own timeout below covers the rest.
                "timeout": str(int(settings.read_timeout_s * 1_000_000)),
                "allowed_media_types": "video",
            }
        target = urllib.parse.urlsplit(settings.url).path if self._is_file else settings.url
        try:
            container = av.open(
                target, "r", options=options, timeout=(settings.open_timeout_s, settings.read_timeout_s)
            )
        except (av.FFmpegError, OSError) as err:
            self._fail(f"open failed: {err}")
            return False
        if not container.streams.video:
            container.close()
            self._fail("no video stream")
            return False
        stream = container.streams.video[0]
        if stream.codec_context.name != "h264":
            container.close()
            self._fail(f"video is {stream.codec_context.name}, not H.264: set the camera to H.264")
            return False
        # Decode on this thread, one picture per packet, without a frame-threading delay.
        stream.codec_context.thread_type = "SLICE"
        if settings.decode == "keyframes":
            stream.codec_context.skip_frame = "NONKEY"
        self._container, self._stream = container, stream
        self._packets = container.demux(stream)
        self._generation += 1
        self._anchor = None
        self._failures = 0
        self._last_error = None
        logger.info("camera %s connected (%dx%d)", self.url, stream.codec_context.width, stream.codec_context.height)
        return True

    def _fail(self, reason: str) -> None:
        self._disconnect()
        delay = min(self._settings.reconnect_max_s, self._settings.reconnect_min_s * 2**self._failures)
        self._failures += 1
        self._reconnects += 1
        self._next_attempt_s = time.monotonic() + delay
        # FFmpeg's messages quote the URL it was given, password included: health and logs get it redacted.
        reason = redact_text(reason)
        self._last_error = reason
        logger.warning("camera %s: %s; reconnecting in %.1f s", self.url, reason, delay)

    def _disconnect(self) -> None:
        container, self._container = self._container, None
        self._stream = None
        self._packets = None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError) as err:
                logger.debug("camera %s: error while closing: %s", self.url, redact_text(str(err)))
