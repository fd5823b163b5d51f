"""Choose and build a printer from its URL, the form the station's config uses.

URL forms (options go in the query string or as keyword arguments; keyword arguments win):

- ``tcp://10.0.0.5:9100`` - raw TCP (port 9100 when omitted); ``connect_timeout_s``, ``eof_timeout_s``;
- ``usb:///dev/usb/lp0`` - the USB printer class device (a udev symlink works the same);
- ``serial:///dev/ttyUSB0?baud=9600`` - a serial port: ``baud``, ``bytesize``, ``parity`` (N/E/O),
  ``stopbits``, ``xonxoff``, ``rtscts``; ``serial:socket://host:port`` takes a pyserial URL instead;
- ``sim://NAME?paper_out=1&slow_ms=200&dir=/tmp/labels`` - the in-process virtual printer with its fault
  knobs (``sim.Faults``), ``dir`` to keep jobs as files, ``odometer_start``; pass ``engine=`` (a
  ``VirtualPrinterEngine``) to share one virtual printer between several ``Printer`` objects.

Every form also takes the :class:`PrinterOptions` (``timeout_s``, ``print_timeout_s``, ``odometer``...).
An unknown or misspelt option, or a bad value, is a :class:`PrinterConfigError`, never silently ignored.
"""

import urllib.parse
from typing import Any, TypeVar

from pydantic import ConfigDict, Field, ValidationError

from drivers.options import DeviceOptions
from drivers.printers.errors import PrinterConfigError
from drivers.printers.printer import Printer, PrinterOptions
from drivers.printers.serial_link import SerialTransport
from drivers.printers.sim import FAULT_NAMES, Faults, SimTransport, VirtualPrinterEngine
from drivers.printers.tcp import TcpTransport
from drivers.printers.transport import Transport
from drivers.printers.usb import UsbTransport

_ModelT = TypeVar("_ModelT", bound=DeviceOptions)


class TcpOptions(DeviceOptions):
    """Options of ``tcp://``."""

    connect_timeout_s: float = Field(3.0, gt=0, description="Longest wait for the printer to accept a connection.")
    eof_timeout_s: float = Field(2.0, gt=0, description="Longest wait for the printer to close after a job.")


class UsbOptions(DeviceOptions):
    """Options of ``usb://`` (none beyond the printer's own)."""


class SerialOptions(DeviceOptions):
    """Options of ``serial://``; Zebra's factory setting is 9600 8N1."""

    baud: int = Field(9600, gt=0, description="Line speed in baud.")
    bytesize: int = Field(8, ge=7, le=8, description="Data bits.")
    parity: str = Field("N", pattern="^[NEO]$", description="Parity: N, E or O.")
    stopbits: int = Field(1, ge=1, le=2, description="Stop bits.")
    xonxoff: bool = Field(False, description="Software flow control.")
    rtscts: bool = Field(False, description="Hardware (RTS/CTS) flow control.")


class SimOptions(DeviceOptions):
    """Options of ``sim://``: the fault knobs of ``sim.Faults`` and where to keep jobs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    paper_out: bool = False
    head_open: bool = False
    paused: bool = False
    paper_left: int = Field(-1, ge=-1)
    quiet_on_error: bool = False
    no_answer: bool = False
    slow_ms: float = Field(0.0, ge=0)
    drop_mid_job: int = Field(0, ge=0)
    drop_after_print: int = Field(0, ge=0)
    print_ms: float = Field(0.0, ge=0)
    dir: str | None = Field(None, description="Write each job here as .zpl (and .png).")
    render_png: bool = Field(True, description="Render stored jobs to PNG when a renderer is installed.")
    odometer_start: int = Field(0, ge=0, description="The label counter before the first label.")
    engine: VirtualPrinterEngine | None = Field(None, description="Use this engine instead of a new one.")


def open_printer(url: str, **options: Any) -> Printer:
    """Build the printer ``url`` names (see the module docstring); nothing is sent until the first call."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    merged: dict[str, Any] = {**query, **options}
    printer_values = {key: value for key, value in merged.items() if key in PrinterOptions.model_fields}
    link_values = {key: value for key, value in merged.items() if key not in PrinterOptions.model_fields}
    printer_options = _validate(PrinterOptions, printer_values, url)
    transport = _transport(url, parts, link_values)
    return Printer(transport, printer_options)


def _transport(url: str, parts: urllib.parse.SplitResult, values: dict[str, Any]) -> Transport:
    scheme = parts.scheme.lower()
    if scheme == "tcp":
        if not parts.hostname:
            raise PrinterConfigError(f"{url}: write tcp://HOST:PORT")
        tcp = _validate(TcpOptions, values, url)
        try:
            port = parts.port or 9100
        except ValueError as err:
            raise PrinterConfigError(f"{url}: bad port: {err}") from err
        return TcpTransport(
            parts.hostname, port, connect_timeout_s=tcp.connect_timeout_s, eof_timeout_s=tcp.eof_timeout_s
        )
    if scheme == "usb":
        _validate(UsbOptions, values, url)
        path = urllib.parse.unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise PrinterConfigError(f"{url}: write usb:///dev/usb/lp0 (three slashes, an absolute path)")
        return UsbTransport(path)
    if scheme == "serial":
        line = _validate(SerialOptions, values, url)
        device = urllib.parse.unquote(parts.path)
        if parts.netloc:
            raise PrinterConfigError(f"{url}: write serial:///dev/... (three slashes) or serial:socket://...")
        if not device:
            raise PrinterConfigError(f"{url}: no serial port given")
        return SerialTransport(device, **line.model_dump())
    if scheme == "sim":
        if parts.path not in ("", "/"):
            raise PrinterConfigError(f"{url}: a sim printer takes options in the query, not a path")
        sim = _validate(SimOptions, values, url)
        if sim.engine is not None and set(values) - {"engine"}:
            raise PrinterConfigError(f"{url}: with engine=, set faults on the engine, not in the URL")
        engine = sim.engine or VirtualPrinterEngine(
            Faults(**{name: getattr(sim, name) for name in FAULT_NAMES}),
            directory=sim.dir,
            render_png=sim.render_png,
            odometer_start=sim.odometer_start,
        )
        return SimTransport(engine, parts.netloc or "sim")
    raise PrinterConfigError(f"{url}: unknown printer scheme {parts.scheme!r} (use tcp://, usb://, serial://, sim://)")


def _validate(model: type[_ModelT], values: dict[str, Any], url: str) -> _ModelT:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'options'}: {error['msg']}" for error in err.errors()
        )
        raise PrinterConfigError(f"{url}: {problems}") from err
