"""The firmware's main loop: serial bytes in, engine step, serial bytes out, feed the chip watchdog, repeat."""

from firmware_bridge.core import wire
from firmware_bridge.core.device import DeviceEngine
from firmware_bridge.firmware import config
from firmware_bridge.firmware.board import Board

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from typing import Any

FIRMWARE_VERSION = (1, 0, 0)
READ_LIMIT = 256  # bytes taken per loop pass, so a flood of input cannot starve the outputs


class UsbCdcPort:
    """The board's own USB serial port (MicroPython's stdio), read without blocking."""

    def __init__(self, sys_mod: "Any", select_mod: "Any", micropython_mod: "Any") -> None:
        # 0x03 is ordinary data in our frames; without this it would raise KeyboardInterrupt.
        micropython_mod.kbd_intr(-1)
        self._in = sys_mod.stdin.buffer
        self._out = sys_mod.stdout.buffer
        self._poll = select_mod.poll()
        self._poll.register(sys_mod.stdin, select_mod.POLLIN)

    def read(self) -> bytes:
        """Whatever has arrived, possibly nothing."""
        data = bytearray()
        while len(data) < READ_LIMIT and self._poll.poll(0):
            chunk = self._in.read(1)
            if not chunk:
                break
            data.extend(chunk)
        return bytes(data)

    def write(self, data: bytes) -> None:
        """Send bytes to the host."""
        self._out.write(data)


class UartPort:
    """A hardware UART (for a USB-serial adapter instead of the native USB port)."""

    def __init__(self, machine: "Any") -> None:
        self._uart = machine.UART(
            config.UART_ID,
            baudrate=config.UART_BAUD,
            tx=machine.Pin(config.UART_TX_PIN),
            rx=machine.Pin(config.UART_RX_PIN),
        )

    def read(self) -> bytes:
        """Whatever has arrived, possibly nothing."""
        if not self._uart.any():
            return b""
        data = self._uart.read(READ_LIMIT)
        return bytes(data) if data else b""

    def write(self, data: bytes) -> None:
        """Send bytes to the host."""
        self._uart.write(data)


class TickClock:
    """Milliseconds since boot that never wrap (MicroPython's `ticks_ms` wraps; integers here do not)."""

    def __init__(self, time_mod: "Any") -> None:
        self._time = time_mod
        self._last = time_mod.ticks_ms()
        self._now = 0

    def now_ms(self) -> int:
        """Current time in ms since this clock was made."""
        ticks = self._time.ticks_ms()
        self._now += self._time.ticks_diff(ticks, self._last)
        self._last = ticks
        return int(self._now)


class Firmware:
    """One controller: the engine wired to a board and a port, stepped by `step(now_ms)`."""

    def __init__(
        self,
        board: "Any",
        port: "Any",
        now_ms: int,
        reset_cause: int = wire.RESET_CAUSE_POWER_ON,
        wdt: "Any" = None,
    ) -> None:
        self.board = board
        self.port = port
        self.wdt = wdt
        self.engine = DeviceEngine(
            board,
            now_ms,
            firmware_version=FIRMWARE_VERSION,
            capabilities=wire.CAP_ALL,
            counts_per_g=config.COUNTS_PER_G,
            reset_cause=reset_cause,
            debounce_ms=config.PEDAL_DEBOUNCE_MS,
            zero_counts=config.ZERO_COUNTS,
        )
        self._flush()

    def step(self, now_ms: int) -> None:
        """One pass of the main loop."""
        data = self.port.read()
        if data:
            self.engine.receive(data, now_ms)
        self.engine.tick(now_ms)
        self._flush()
        if self.wdt is not None:
            self.wdt.feed()

    def _flush(self) -> None:
        out = self.engine.take_output()
        if out:
            self.port.write(out)


def reset_cause_of(machine: "Any") -> int:
    """Map `machine.reset_cause()` to the protocol's reset cause."""
    cause = machine.reset_cause()
    if cause == getattr(machine, "WDT_RESET", -1):
        return wire.RESET_CAUSE_WATCHDOG
    if cause == getattr(machine, "PWRON_RESET", -1):
        return wire.RESET_CAUSE_POWER_ON
    if cause == getattr(machine, "SOFT_RESET", -1):
        return wire.RESET_CAUSE_SOFT
    return wire.RESET_CAUSE_UNKNOWN


def main(machine: "Any", time_mod: "Any", port: "Any" = None, steps: int = -1) -> Firmware:
    """Run the controller: forever on the board (`steps=-1`), or `steps` passes for a test."""
    board = Board(machine)
    if port is None:
        if config.UART_ID is None:
            import select  # noqa: PLC0415
            import sys  # noqa: PLC0415

            import micropython  # type: ignore[import-not-found]  # noqa: PLC0415 - only exists on the board

            port = UsbCdcPort(sys, select, micropython)
        else:
            port = UartPort(machine)
    cause = reset_cause_of(machine)
    wdt = machine.WDT(timeout=config.HW_WATCHDOG_MS)
    clock = TickClock(time_mod)
    firmware = Firmware(board, port, clock.now_ms(), cause, wdt)
    while steps != 0:
        firmware.step(clock.now_ms())
        time_mod.sleep_ms(config.LOOP_SLEEP_MS)
        if steps > 0:
            steps -= 1
    return firmware
