"""Choose and build a camera source from its URL, the form the station's config uses.

URL forms (options go in the query string or as keyword arguments; keyword arguments win):

- ``usb:///dev/v4l/by-id/usb-...-video-index0`` or ``usb:///dev/video0`` or ``usb://0`` (an index): a UVC
  camera through OpenCV; ``width``, ``height``, ``fps`` (default 1280x720 @ 30), ``fourcc`` (``MJPG``),
  ``reopen_min_s``, ``reopen_max_s``, ``read_fail_limit``;
- ``rtsp://user:password@host:554/Streaming/Channels/101``: an IP camera's H.264 stream, copied into segments.
  The URL is passed to the camera unchanged, query included (some cameras use it), so the options are keyword
  arguments only: ``transport`` (``tcp``), ``open_timeout_s`` (10), ``read_timeout_s`` (5), ``decode``
  (``keyframes`` or ``all``), ``reconnect_min_s``, ``reconnect_max_s``;
- ``file:///path/video.mp4?loop=1``: a recorded H.264 file replayed like an RTSP camera (demos, tests):
  the RTSP options plus ``realtime`` (pace at the file's timestamps, default on) and ``loop``;
- ``sim://NAME?width=320&height=240&fps=15``: the simulated camera with its fault knobs ``frozen_after_s``,
  ``dropout_after_s``, ``slow_fps`` (see :mod:`drivers.cameras.sources.sim`), and ``scroll_px``.

An unknown or misspelt option, or a bad value, is a :class:`CameraConfigError`, never silently ignored.
``open_camera`` only builds the source: the recorder starts it (on its own thread, since opening can block).
"""

import urllib.parse
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError

from drivers.cameras.errors import CameraConfigError
from drivers.cameras.sources.base import CameraSource
from drivers.cameras.sources.sim import SimCamera, SimKnobs
from drivers.cameras.sources.stream import StreamCamera, StreamSettings
from drivers.cameras.sources.usb import CaptureLike, UsbCamera, UsbSettings
from drivers.options import DeviceOptions
from drivers.urls import redact_url

_ModelT = TypeVar("_ModelT", bound=DeviceOptions)


class SimOptions(DeviceOptions):
    """Options of ``sim://``."""

    width: int = Field(320, ge=16, le=4096)
    height: int = Field(240, ge=16, le=4096)
    fps: float = Field(15.0, gt=0, le=120)
    frozen_after_s: float | None = Field(None, ge=0)
    dropout_after_s: float | None = Field(None, ge=0)
    slow_fps: float | None = Field(None, gt=0, le=120)
    scroll_px: int = Field(4, ge=0)


class UsbOptions(DeviceOptions):
    """Options of ``usb://``."""

    width: int = Field(1280, ge=16, le=4096)
    height: int = Field(720, ge=16, le=4096)
    fps: float = Field(30.0, gt=0, le=120)
    fourcc: str = Field("MJPG", pattern=r"^[A-Z0-9 ]{4}$")
    reopen_min_s: float = Field(0.5, gt=0)
    reopen_max_s: float = Field(30.0, gt=0)
    read_fail_limit: int = Field(5, ge=1)


class StreamOptions(DeviceOptions):
    """Options of ``rtsp://``."""

    transport: Literal["tcp", "udp"] = "tcp"
    open_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(5.0, gt=0)
    decode: Literal["keyframes", "all"] = "keyframes"
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)


class FileOptions(StreamOptions):
    """Options of ``file://``."""

    realtime: bool = True
    loop: bool = False


def _options(model: type[_ModelT], url: str, query: dict[str, str], overrides: dict[str, Any]) -> _ModelT:
    try:
        return model.model_validate({**query, **overrides})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise CameraConfigError(f"camera {redact_url(url)}: {problems}") from err


def open_camera(
    url: str, *, capture_factory: Callable[[str | int], CaptureLike] | None = None, **options: Any
) -> CameraSource:
    """Build the camera source named by ``url`` (see the module docstring); it is not started yet.

    ``capture_factory`` replaces ``cv2.VideoCapture`` for ``usb://`` (tests use a fake device).
    """
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if parts.scheme == "sim":
        sim = _options(SimOptions, url, query, options)
        # The name is the host part: a simulated camera has no use for credentials, and its name is shown.
        name = parts.netloc.rpartition("@")[2]
        return SimCamera(name or parts.path.strip("/") or "sim", SimKnobs(**sim.model_dump()))
    if parts.scheme == "usb":
        usb = _options(UsbOptions, url, query, options)
        device: str | int
        if parts.netloc.isdigit():
            device = int(parts.netloc)
        elif parts.path:
            device = parts.path
        else:
            raise CameraConfigError(
                f"camera {redact_url(url)}: give a device path (usb:///dev/video0) or an index (usb://0)"
            )
        return UsbCamera(UsbSettings(device=device, **usb.model_dump()), capture_factory=capture_factory)
    if parts.scheme in ("rtsp", "rtsps"):
        stream = _options(StreamOptions, url, {}, options)
        return StreamCamera(StreamSettings(url=url, **stream.model_dump()))
    if parts.scheme == "file":
        replay = _options(FileOptions, url, query, options)
        return StreamCamera(
            StreamSettings(url=urllib.parse.urlunsplit(parts._replace(query="")), **replay.model_dump())
        )
    raise CameraConfigError(f"camera {redact_url(url)}: unknown scheme {parts.scheme!r} (usb, rtsp, file, sim)")
