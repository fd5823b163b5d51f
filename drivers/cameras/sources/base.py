"""The interfaces every camera source implements, and the status each one reports.

Two kinds of source exist, told apart by ``delivers_packets``:

- a :class:`FrameSource` (USB/UVC, ``sim://``) hands out decoded BGR frames, which the recorder overlays
  and encodes;
- a :class:`PacketSource` (RTSP, ``file://`` replay) hands out the camera's own H.264 packets, which the
  recorder copies into segments unchanged; it also decodes some of them so that photos and the frozen
  picture check still have pictures to look at.

Sources are not thread-safe beyond what is stated: one thread (the recorder's) calls ``start``, ``read``/
``read_packet`` and ``close``; ``status`` may be called from anywhere.
"""

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from drivers.cameras.frames import EncodedPacket, Frame

SourceKind = Literal["usb", "rtsp", "file", "sim"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A snapshot of a source's connection state.

    ``url`` never contains a password. ``width``/``height``/``fps`` are what the camera actually delivers once
    connected (0 before), which may differ from what was asked for.
    """

    url: str
    kind: SourceKind
    connected: bool
    width: int
    height: int
    fps: float
    reconnects: int
    last_error: str | None


@runtime_checkable
class CameraSource(Protocol):
    """What every camera source offers."""

    @property
    def url(self) -> str:
        """The source's URL with any password removed (safe to log and show)."""

    @property
    def kind(self) -> SourceKind:
        """Which driver this is."""

    @property
    def delivers_packets(self) -> bool:
        """True for a :class:`PacketSource` (stream copy), False for a :class:`FrameSource`."""

    def start(self) -> None:
        """Begin capturing. May block up to the source's open timeout; never raises for an absent camera."""

    def close(self) -> None:
        """Stop capturing and release the device or connection. Idempotent."""

    def status(self) -> SourceStatus:
        """The connection state (thread-safe)."""


@runtime_checkable
class FrameSource(CameraSource, Protocol):
    """A camera whose frames arrive decoded (USB/UVC, simulator)."""

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame not returned before, waiting up to ``timeout_s``; None when none came in time."""


@runtime_checkable
class PacketSource(CameraSource, Protocol):
    """A camera that sends H.264 (RTSP), recorded by stream copy."""

    def read_packet(self, timeout_s: float) -> EncodedPacket | None:
        """The next video packet, waiting up to about ``timeout_s``; None when none came in time."""

    def latest_frame(self) -> Frame | None:
        """The newest picture decoded from the stream (see the source's ``decode`` option), or None."""

    @property
    def template_stream(self) -> Any:
        """The PyAV input video stream of the current connection, used as the template of output streams."""
