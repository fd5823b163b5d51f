"""Serial scanners (USB CDC / RS-232) through pyserial, read from the loop and reopened after any failure.

The port is opened non-blocking (``timeout=0``) and its fd put on the loop with ``add_reader``; each readable
event reads what is there and cuts it into codes at CR / LF / CRLF. A partial code with no terminator for
``partial_timeout_s`` is dropped and logged, never delivered and never glued to the next code. Any
``SerialException`` or ``OSError`` (unplug, EIO when the other end closes) closes the port and schedules a
reopen with exponential backoff; a port missing at start is handled the same way.
"""

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any, Literal

import serial
from pydantic import Field

from drivers.options import DeviceOptions
from drivers.scanners.base import ScanSink, deliver, make_scan, wire_logger
from drivers.scanners.errors import ScannerConfigError, ScannerStateError
from drivers.scanners.framing import EndOfLine, LineFramer

logger = logging.getLogger(__name__)

#: Bytes asked for per readable event; a scanner frame is far shorter, so one read usually drains the port.
_READ_SIZE = 4096


class SerialOptions(DeviceOptions):
    """Options of a serial scanner (URL query parameters or keyword arguments)."""

    baud: int = Field(9600, gt=0, description="Line speed in baud.")
    bytesize: int = Field(8, ge=7, le=8, description="Data bits (7 or 8).")
    parity: Literal["N", "E", "O"] = Field("N", description="Parity: none, even, odd.")
    stopbits: int = Field(1, ge=1, le=2, description="Stop bits (1 or 2).")
    eol: EndOfLine = Field("any", description="End of code: any of CR/LF/CRLF, or exactly cr, lf, crlf.")
    partial_timeout_s: float = Field(1.0, gt=0, description="Drop a code left without terminator this long.")
    max_frame_bytes: int = Field(4096, gt=0, description="Longest code kept; longer runs are line noise.")
    reconnect_initial_s: float = Field(0.5, gt=0, description="First wait before reopening a failed port.")
    reconnect_max_s: float = Field(10.0, gt=0, description="Longest wait between reopen attempts.")


SerialFactory = Callable[..., Any]


class SerialScanner:
    """A scan source on one serial port: a path (``/dev/serial/by-id/...``) or any pyserial URL with an fd."""

    def __init__(
        self,
        port: str,
        *,
        name: str | None = None,
        options: SerialOptions | None = None,
        serial_factory: SerialFactory | None = None,
    ) -> None:
        """Prepare the source; the port is first opened by :meth:`start`."""
        if not port:
            raise ScannerConfigError("serial scanner needs a port path or pyserial URL")
        self._port = port
        self._options = options or SerialOptions()
        if self._options.reconnect_max_s < self._options.reconnect_initial_s:
            raise ScannerConfigError("reconnect_max_s must not be smaller than reconnect_initial_s")
        self._serial_factory: SerialFactory = serial_factory or serial.serial_for_url
        self.name = name or (port if "://" in port else os.path.basename(port))
        self._framer = LineFramer(self._options.eol, self._options.max_frame_bytes, device=self.name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: ScanSink | None = None
        self._serial: Any = None
        self._fd: int | None = None
        self._retry_handle: asyncio.TimerHandle | None = None
        self._partial_timer: asyncio.TimerHandle | None = None
        self._backoff_s = self._options.reconnect_initial_s
        self._failure_logged = False
        #: Partial codes dropped because their terminator never came.
        self.dropped_partials = 0
        #: Times the port was lost after being open.
        self.disconnects = 0
        #: Delay before the pending reopen attempt, in seconds; None while the port is open.
        self.retry_delay_s: float | None = None

    @property
    def connected(self) -> bool:
        """True while the port is open and on the loop."""
        return self._fd is not None

    async def start(self, sink: ScanSink) -> None:
        """Open the port now if it is there, else keep trying in the background."""
        if self._loop is not None:
            raise ScannerStateError(f"scanner {self.name} is already started")
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._connect()

    async def stop(self) -> None:
        """Close the port and cancel the timers."""
        if self._retry_handle is not None:
            self._retry_handle.cancel()
            self._retry_handle = None
        self._close()
        self._loop = None
        self._sink = None

    def _connect(self) -> None:
        self._retry_handle = None
        if self._loop is None:
            return
        options = self._options
        extra: dict[str, Any] = {}
        if "://" not in self._port:
            # A lock file stops a second process (a stray `screen`, ModemManager) from stealing bytes.
            extra["exclusive"] = True
        handle: Any = None
        try:
            handle = self._serial_factory(
                self._port,
                baudrate=options.baud,
                bytesize=options.bytesize,
                parity=options.parity,
                stopbits=options.stopbits,
                timeout=0,
                **extra,
            )
            fd = handle.fileno()
        except (AttributeError, NotImplementedError) as err:
            # rfc2217:// and loop:// have no fd to watch; retrying would never help.
            if handle is not None:
                _close_quietly(handle)
            logger.error(  # noqa: TRY400 - a configuration fact, the traceback would add nothing
                "scanner %s: %s has no file descriptor to read from the loop (%s)", self.name, self._port, err
            )
            return
        except (serial.SerialException, OSError, ValueError) as err:
            if handle is not None:
                _close_quietly(handle)
            self._schedule_reconnect(f"cannot open {self._port}: {err}")
            return
        self._serial = handle
        self._fd = fd
        self._backoff_s = options.reconnect_initial_s
        self.retry_delay_s = None
        self._failure_logged = False
        self._loop.add_reader(fd, self._handle_readable)
        logger.info("scanner %s: %s open at %d baud", self.name, self._port, options.baud)

    def _schedule_reconnect(self, reason: str) -> None:
        assert self._loop is not None
        if self._failure_logged:
            logger.debug("scanner %s: %s; retry in %.1fs", self.name, reason, self._backoff_s)
        else:
            logger.warning("scanner %s: %s; retrying with backoff", self.name, reason)
            self._failure_logged = True
        self.retry_delay_s = self._backoff_s
        self._retry_handle = self._loop.call_later(self._backoff_s, self._connect)
        self._backoff_s = min(self._backoff_s * 2, self._options.reconnect_max_s)

    def _handle_readable(self) -> None:
        try:
            data: bytes = self._serial.read(_READ_SIZE)
        except (serial.SerialException, OSError) as err:
            self.disconnects += 1
            self._close()
            if self._loop is not None:
                self._schedule_reconnect(f"lost {self._port}: {err}")
            return
        if not data:
            return
        wire_logger.debug("%s < %r", self.name, data)
        for frame in self._framer.feed(data):
            if self._sink is not None:
                deliver(self._sink, make_scan(frame, self.name))
        self._arm_partial_timer()

    def _arm_partial_timer(self) -> None:
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None
        if self._framer.pending and self._loop is not None:
            self._partial_timer = self._loop.call_later(self._options.partial_timeout_s, self._handle_partial_timeout)

    def _handle_partial_timeout(self) -> None:
        self._partial_timer = None
        partial = self._framer.reset()
        self.dropped_partials += 1
        logger.warning(
            "scanner %s: partial code %r dropped: no end of line within %ss",
            self.name,
            partial,
            self._options.partial_timeout_s,
        )

    def _close(self) -> None:
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None
        if self._framer.pending:
            logger.warning("scanner %s: partial code %r lost with the port", self.name, self._framer.reset())
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._fd = None
        if self._serial is not None:
            _close_quietly(self._serial)
            self._serial = None


def _close_quietly(handle: Any) -> None:
    try:
        handle.close()
    except (serial.SerialException, OSError) as err:
        logger.debug("closing serial port failed: %s", err)
