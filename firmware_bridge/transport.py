"""Byte transports for the host: a real serial port on the asyncio loop, or the in-process emulator.

Both are chosen by URL, as pyserial does: a device path (`/dev/serial/by-id/usb-...`, `/dev/ttyACM0`, a pty) opens
the real port; `sim://?knob=value&...` runs an `Emulator` in-process. A transport delivers bytes to `on_data` and
reports a dead port once through `on_lost`; it never blocks the loop and uses no threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import serial

from firmware_bridge.errors import PortUrlError, TransportError

if TYPE_CHECKING:
    from firmware_bridge.emulator import Emulator, FaultKnobs

logger = logging.getLogger(__name__)

DataCallback = Callable[[bytes], None]
LostCallback = Callable[[Exception], None]

READ_CHUNK = 4096
# The simulated controller's clock tick. 20 ms resolves the pedal's debounce and the scale's settle window
# (tens to hundreds of ms) and keeps an idle station's event loop at 50 wake-ups a second (at 5 ms the sim
# alone took ~1.7 % of a core; a real controller on a serial port costs nothing while quiet).
SIM_TICK_S = 0.02


class Transport(Protocol):
    """An open-able byte pipe to the controller."""

    description: str

    def open(self, on_data: DataCallback, on_lost: LostCallback) -> None:
        """Open the port and start delivering bytes. Raises `TransportError` if it cannot be opened."""

    def write(self, data: bytes) -> None:
        """Queue bytes for the device (never blocks; bytes are dropped if the port is not open)."""

    def close(self) -> None:
        """Close the port (idempotent); no callbacks after this returns."""


class SerialTransport:
    """A pyserial port whose file descriptor is served by `loop.add_reader` / `add_writer`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str, baudrate: int = 115200) -> None:
        self._loop = loop
        self.path = path
        self.baudrate = baudrate
        self.description = path
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._pending = bytearray()
        self._on_data: DataCallback | None = None
        self._on_lost: LostCallback | None = None

    def open(self, on_data: DataCallback, on_lost: LostCallback) -> None:
        """Open the port non-blocking and exclusively (a second process gets an error, not half the bytes)."""
        port = serial.Serial()
        port.port = self.path
        port.baudrate = self.baudrate
        port.timeout = 0
        port.write_timeout = 0
        port.exclusive = True
        try:
            port.open()
            port.reset_input_buffer()
        except (serial.SerialException, OSError, ValueError) as err:
            raise TransportError(f"cannot open {self.path}: {err}") from err
        self._serial = port
        self._fd = port.fileno()
        os.set_blocking(self._fd, False)
        self._on_data = on_data
        self._on_lost = on_lost
        self._pending = bytearray()
        self._loop.add_reader(self._fd, self._handle_readable)

    def write(self, data: bytes) -> None:
        """Write now if the kernel takes it, else keep the rest and finish when the fd is writable."""
        if self._fd < 0 or not data:
            return
        if self._pending:
            self._pending.extend(data)
            return
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError as err:
            self._fail(err)
            return
        if written < len(data):
            self._pending.extend(data[written:])
            self._loop.add_writer(self._fd, self._handle_writable)

    def _handle_writable(self) -> None:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            return
        except OSError as err:
            self._fail(err)
            return
        del self._pending[:written]
        if not self._pending:
            self._loop.remove_writer(self._fd)

    def _handle_readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            # EIO is what a tty read gives once the USB device (or the pty master) is gone.
            self._fail(err)
            return
        if not data:
            self._fail(OSError(errno.EIO, "end of file on serial port"))
            return
        if self._on_data is not None:
            self._on_data(data)

    def _fail(self, err: OSError) -> None:
        on_lost = self._on_lost
        self.close()
        if on_lost is not None:
            on_lost(TransportError(f"{self.path}: {err}"))

    def close(self) -> None:
        """Stop watching the fd and close the port."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = -1
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError) as err:
                logger.debug("closing %s: %s", self.path, err)
            self._serial = None
        self._on_data = None
        self._on_lost = None
        self._pending = bytearray()


class SimTransport:
    """The in-process emulator as a transport: bytes go straight in, a loop timer ticks the device."""

    def __init__(self, loop: asyncio.AbstractEventLoop, emulator: Emulator, description: str = "sim://") -> None:
        self._loop = loop
        self.emulator = emulator
        self.description = description
        self._timer: asyncio.TimerHandle | None = None
        self._on_data: DataCallback | None = None
        self._on_lost: LostCallback | None = None
        self._flush_scheduled = False

    def open(self, on_data: DataCallback, on_lost: LostCallback) -> None:
        """Attach to the emulator; fails while it is unplugged."""
        if not self.emulator.plugged:
            raise TransportError(f"cannot open {self.description}: simulated device unplugged")
        self._on_data = on_data
        self._on_lost = on_lost
        self._timer = self._loop.call_later(SIM_TICK_S, self._handle_tick)

    def write(self, data: bytes) -> None:
        """Hand bytes to the emulator; its answer is delivered from the loop, never re-entrantly."""
        if self._on_data is None:
            return
        self.emulator.receive(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _handle_tick(self) -> None:
        self._timer = None
        if self._on_data is None:
            return
        self.emulator.tick()
        self._flush()
        if self._on_data is not None:
            self._timer = self._loop.call_later(SIM_TICK_S, self._handle_tick)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._on_data is None:
            return
        if not self.emulator.plugged:
            on_lost = self._on_lost
            self.close()
            if on_lost is not None:
                on_lost(TransportError(f"{self.description}: simulated device unplugged"))
            return
        data = self.emulator.take_output()
        if data:
            self._on_data(data)

    def close(self) -> None:
        """Detach from the emulator."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._on_data = None
        self._on_lost = None


def is_sim_url(url: str) -> bool:
    """True for `sim://` URLs (the in-process emulator)."""
    return url.startswith("sim://") or url == "sim:"


def parse_sim_url(url: str) -> FaultKnobs:
    """The fault knobs of a `sim://?...` URL. Raises `PortUrlError`."""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        raise PortUrlError(f"not a sim:// URL: {url!r}")
    if parts.netloc or parts.path not in ("", "/"):
        raise PortUrlError(f"sim:// URL takes only query knobs, got {url!r}")
    # Imported here so that `python -m firmware_bridge.emulator` does not find its own module half-imported.
    from firmware_bridge.emulator import FaultKnobs  # noqa: PLC0415

    return FaultKnobs.from_query(parts.query)


def make_emulator(url: str) -> Emulator:
    """A new in-process emulator with the knobs of a `sim://` URL. Raises `PortUrlError`."""
    from firmware_bridge.emulator import Emulator  # noqa: PLC0415 - see parse_sim_url

    return Emulator(parse_sim_url(url))


def check_port_url(url: str) -> None:
    """Refuse URLs that cannot name a port here (other pyserial schemes have no fd to put on the loop)."""
    if not url:
        raise PortUrlError("empty port URL")
    if is_sim_url(url):
        parse_sim_url(url)
        return
    scheme = urlsplit(url).scheme
    if scheme and not url.startswith("/"):
        raise PortUrlError(f"unsupported port URL {url!r}: use a device path or sim://")
