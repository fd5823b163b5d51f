"""Camera sources: USB/UVC (OpenCV), RTSP H.264 (PyAV, stream copy), file replay and the simulator.

Build one with :func:`open_camera` from a URL (see :mod:`drivers.cameras.sources.factory` for every form and
option); give it to a :class:`~drivers.cameras.recorder.Recorder`, which starts and reads it on its own thread.
"""

from drivers.cameras.sources.base import CameraSource, FrameSource, PacketSource, SourceKind, SourceStatus
from drivers.cameras.sources.factory import FileOptions, SimOptions, StreamOptions, UsbOptions, open_camera
from drivers.cameras.sources.sim import SimCamera, SimKnobs, render_pattern
from drivers.cameras.sources.stream import StreamCamera, StreamSettings, redact_url
from drivers.cameras.sources.usb import CaptureLike, UsbCamera, UsbSettings

__all__ = [
    "CameraSource",
    "CaptureLike",
    "FileOptions",
    "FrameSource",
    "PacketSource",
    "SimCamera",
    "SimKnobs",
    "SimOptions",
    "SourceKind",
    "SourceStatus",
    "StreamCamera",
    "StreamOptions",
    "StreamSettings",
    "UsbCamera",
    "UsbOptions",
    "UsbSettings",
    "open_camera",
    "redact_url",
    "render_pattern",
]
