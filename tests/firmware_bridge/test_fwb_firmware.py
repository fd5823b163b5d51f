"""The reference firmware's hardware layer on the fake `machine`: HX711 driver, board wiring, clock, main loop,
entry point and the deploy staging."""

import runpy
import sys
from pathlib import Path

import fwb_fake_machine as fake_machine
import pytest

from firmware_bridge.core import wire
from firmware_bridge.firmware import app, config, deploy
from firmware_bridge.firmware.board import Board
from firmware_bridge.firmware.hx711 import HX711


@pytest.fixture(autouse=True)
def fresh_board() -> None:
    fake_machine.reset()


def make_chip() -> tuple[HX711, fake_machine.FakeHX711]:
    chip = fake_machine.attach_hx711(17, 18)
    driver = HX711(fake_machine.Pin(17, fake_machine.Pin.OUT), fake_machine.Pin(18, fake_machine.Pin.IN), fake_machine)
    return driver, chip


@pytest.mark.parametrize("counts", [0, 1, 420_000, 0x7FFFFF, -1, -420_000, -0x800000])
def test_hx711_reads_signed_24_bit_conversions(counts: int) -> None:
    driver, chip = make_chip()
    chip.convert(counts)
    assert driver.ready()
    assert driver.read() == counts
    assert chip.reads == 1  # 25 pulses: the chip is left set for channel A, gain 128
    assert not driver.ready()
    assert driver.read() is None


def test_hx711_clocks_with_interrupts_disabled() -> None:
    driver, chip = make_chip()
    chip.convert(12345)
    driver.read()
    assert chip.pulses_with_irq_enabled == 0
    assert fake_machine.state.irq_disabled == 0  # and they are enabled again afterwards


def test_board_drives_lamps_buzzer_and_reads_the_pedal(monkeypatch: pytest.MonkeyPatch) -> None:
    board = Board(fake_machine)
    red, amber, green = (fake_machine.pins[n] for n in config.LAMP_PINS)
    assert (red.value(), amber.value(), green.value()) == (0, 0, 0)
    board.set_lamps(True, False, True)
    assert (red.value(), amber.value(), green.value()) == (1, 0, 1)
    pwm = fake_machine.pwms[config.BUZZER_PIN]
    board.set_tone(2700)
    assert (pwm.freq(), pwm.duty_u16()) == (2700, 32768)
    board.set_tone(0)
    assert pwm.duty_u16() == 0
    pedal = fake_machine.pins[config.PEDAL_PIN]
    assert pedal.pull == fake_machine.Pin.PULL_UP
    assert not board.pedal_raw()
    pedal.set_input(0)
    assert board.pedal_raw()


def test_relay_boards_switching_on_low_get_inverted_lamp_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "LAMP_ACTIVE_HIGH", False)
    board = Board(fake_machine)
    red, amber, green = (fake_machine.pins[n] for n in config.LAMP_PINS)
    assert (red.value(), amber.value(), green.value()) == (1, 1, 1)  # all off at power-up
    board.set_lamps(False, True, False)
    assert (red.value(), amber.value(), green.value()) == (1, 0, 1)


class WrappingTime:
    """MicroPython's `time`: ticks_ms wraps at 2**30 and ticks_diff knows it."""

    PERIOD = 1 << 30

    def __init__(self, start: int) -> None:
        self.ms = start
        self.slept = 0

    def ticks_ms(self) -> int:
        return self.ms % self.PERIOD

    def ticks_diff(self, a: int, b: int) -> int:
        return ((a - b + self.PERIOD // 2) % self.PERIOD) - self.PERIOD // 2

    def sleep_ms(self, ms: int) -> None:
        self.ms += ms
        self.slept += ms


def test_tick_clock_does_not_wrap() -> None:
    fake_time = WrappingTime((1 << 30) - 10)
    clock = app.TickClock(fake_time)
    readings = []
    for _ in range(5):
        fake_time.ms += 7
        readings.append(clock.now_ms())
    assert readings == [7, 14, 21, 28, 35]


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (fake_machine.PWRON_RESET, wire.RESET_CAUSE_POWER_ON),
        (fake_machine.WDT_RESET, wire.RESET_CAUSE_WATCHDOG),
        (99, wire.RESET_CAUSE_UNKNOWN),
    ],
)
def test_reset_cause_is_reported(cause: int, expected: int) -> None:
    fake_machine.state.reset_cause = cause
    assert app.reset_cause_of(fake_machine) == expected


class RecordingPort:
    def __init__(self, inbound: bytes = b"") -> None:
        self.inbound = bytearray(inbound)
        self.outbound = bytearray()

    def read(self) -> bytes:
        data = bytes(self.inbound)
        self.inbound.clear()
        return data

    def write(self, data: bytes) -> None:
        self.outbound.extend(data)


def test_main_loop_feeds_the_chip_watchdog_and_answers_the_host() -> None:
    fake_machine.attach_hx711(config.HX711_SCK_PIN, config.HX711_DOUT_PIN)
    fake_machine.state.reset_cause = fake_machine.WDT_RESET
    hello = wire.encode_frame(wire.HELLO, 0, 0, wire.pack_payload(wire.HELLO, (9, 2000)))
    port = RecordingPort(hello)
    fake_time = WrappingTime(1000)
    firmware = app.main(fake_machine, fake_time, port, steps=20)
    [wdt] = fake_machine.wdts
    assert wdt.timeout == config.HW_WATCHDOG_MS
    assert wdt.feeds == 20
    assert fake_time.slept == 20 * config.LOOP_SLEEP_MS
    sent = wire.FrameDecoder().feed(bytes(port.outbound))
    assert [f.ftype for f in sent] == [wire.RESET, wire.HELLO_ACK]
    assert wire.unpack_payload(wire.HELLO_ACK, sent[1].payload)[-1] == wire.RESET_CAUSE_WATCHDOG
    assert firmware.engine.in_session


def test_usb_cdc_port_disables_ctrl_c_and_reads_what_is_waiting() -> None:
    class Stream:
        def __init__(self, data: bytes = b"") -> None:
            self.data = bytearray(data)
            self.buffer = self

        def read(self, n: int) -> bytes:
            chunk = bytes(self.data[:n])
            del self.data[:n]
            return chunk

        def write(self, data: bytes) -> None:
            self.data.extend(data)

    class Sys:
        stdin = Stream(b"\x03\x00\x11")
        stdout = Stream()

    class Poll:
        def register(self, stream: object, mask: int) -> None:
            self.stream = stream

        def poll(self, timeout: int) -> list[object]:
            return [1] if Sys.stdin.data else []

    class Select:
        POLLIN = 1

        @staticmethod
        def poll() -> Poll:
            return Poll()

    class MicroPython:
        interrupt_char = 3

        def kbd_intr(self, char: int) -> None:
            self.interrupt_char = char

    micropython = MicroPython()
    port = app.UsbCdcPort(Sys, Select, micropython)
    assert micropython.interrupt_char == -1
    assert port.read() == b"\x03\x00\x11"
    assert port.read() == b""
    port.write(b"\x01\x00")
    assert bytes(Sys.stdout.data) == b"\x01\x00"


def test_board_entry_point_starts_the_firmware(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setitem(sys.modules, "machine", fake_machine)
    monkeypatch.setattr(app, "main", lambda machine, time_mod: calls.append((machine, time_mod)))
    runpy.run_path(str(Path(app.__file__).with_name("main.py")))
    assert len(calls) == 1
    assert calls[0][0] is fake_machine


def test_deploy_stages_the_board_filesystem(tmp_path: Path) -> None:
    written = deploy.stage(tmp_path)
    assert "main.py" in written
    assert "firmware_bridge/__init__.py" in written
    assert {"firmware_bridge/core/link.py", "firmware_bridge/core/device.py", "firmware_bridge/firmware/app.py"} <= set(
        written
    )
    assert not any(name.endswith(("deploy.py", "host.py", "emulator.py")) for name in written)
    source = Path(app.__file__).parent.parent / "core" / "wire.py"
    assert (tmp_path / "firmware_bridge/core/wire.py").read_bytes() == source.read_bytes()
    assert "asyncio" not in (tmp_path / "firmware_bridge/__init__.py").read_text()
    commands = deploy.mpremote_commands(tmp_path, "/dev/ttyACM0")
    assert all(command[:3] == ["mpremote", "connect", "/dev/ttyACM0"] for command in commands)
    assert commands[-1][-1] == "reset"
