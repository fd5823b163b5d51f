"""A printer on a serial port (RS-232 or USB CDC) through pyserial.

The port stays open between exchanges (opening a serial port toggles DTR, which some adapters turn into a
glitch on the line); any ``SerialException`` or ``OSError`` closes it and the next exchange reopens it.
``port`` is a device path (``/dev/serial/by-id/...``) or any pyserial URL (``socket://host:port``,
``loop://``), which is how the tests drive this transport against the virtual printer.

A serial line has no framing of its own, so stale input (a late reply) is discarded before each query, and
every read is bounded by the exchange's deadline.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import serial

from drivers.printers.errors import PrinterConnectError, PrinterTransferError
from drivers.printers.transport import ReplyComplete, log_in, log_out

logger = logging.getLogger(__name__)

#: The longest single blocking read; the loop around it enforces the exchange's deadline.
_POLL_S = 0.05

SerialFactory = Callable[..., Any]


class SerialTransport:
    """A printer's serial port (``serial:///dev/ttyUSB0?baud=9600``)."""

    def __init__(
        self,
        port: str,
        *,
        baud: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        xonxoff: bool = False,
        rtscts: bool = False,
        serial_factory: SerialFactory | None = None,
    ) -> None:
        """Remember the line settings; the port is opened by the first exchange."""
        self._port_name = port
        self._settings: dict[str, Any] = {
            "baudrate": baud,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
            "xonxoff": xonxoff,
            "rtscts": rtscts,
        }
        self._factory: SerialFactory = serial_factory or serial.serial_for_url
        self._serial: Any = None
        self.description = f"serial:{port}"

    def _port(self) -> Any:
        if self._serial is None:
            try:
                self._serial = self._factory(self._port_name, timeout=_POLL_S, write_timeout=5.0, **self._settings)
            except (serial.SerialException, OSError, ValueError) as err:
                raise PrinterConnectError(f"{self.description}: cannot open: {err}") from err
        return self._serial

    def _fail(self, err: Exception) -> None:
        logger.info("%s: port failed, will reopen: %s", self.description, err)
        self.close()

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        """Send a query and read its reply (see :class:`Transport`)."""
        deadline = time.monotonic() + timeout_s
        port = self._port()
        reply = bytearray()
        try:
            stale = port.read(port.in_waiting) if port.in_waiting else b""
            if stale:
                logger.debug("%s: dropped %d stale bytes before a query", self.description, len(stale))
                log_in(self.description, stale)
            log_out(self.description, request)
            port.write_timeout = max(deadline - time.monotonic(), 0.001)
            port.write(request)
            port.flush()
            while not complete(bytes(reply)) and time.monotonic() < deadline:
                chunk = port.read(max(port.in_waiting, 1))
                if chunk:
                    log_in(self.description, chunk)
                    reply += chunk
        except (serial.SerialException, OSError) as err:
            self._fail(err)
        return bytes(reply)

    def send(self, payload: bytes, timeout_s: float) -> None:
        """Write a whole job and wait until it has left the port (see :class:`Transport`)."""
        port = self._port()
        log_out(self.description, payload)
        port.write_timeout = timeout_s
        try:
            written = port.write(payload)
            port.flush()
        except (serial.SerialException, OSError) as err:
            self._fail(err)
            # pyserial does not say how much of a failed write left; assume some did, the safe side.
            raise PrinterTransferError(f"{self.description}: write failed: {err}", bytes_sent=-1) from err
        if written is not None and written < len(payload):
            raise PrinterTransferError(
                f"{self.description}: wrote {written} of {len(payload)} bytes before the write timeout",
                bytes_sent=written,
            )

    def close(self) -> None:
        """Close the port; the next exchange reopens it."""
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError) as err:
                logger.debug("%s: close failed: %s", self.description, err)
            self._serial = None
