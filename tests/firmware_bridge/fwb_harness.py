"""Test harness: the two device implementations behind one interface, driven by a fake clock.

- `EmulatorDevice`: `firmware_bridge.emulator.Emulator` (no faults).
- `FirmwareDevice`: the reference firmware (`Firmware` + `Board` + `HX711` driver) on the fake `machine` module,
  with a simulated pedal contact (with bounce) and HX711 chip.

`DeviceDriver` speaks bytes to either one, decodes what comes back, and samples the lamps and the buzzer at every
step, so contract tests can assert on what a packer would see and hear.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import fwb_fake_machine as fake_machine

from firmware_bridge import frames
from firmware_bridge.core import wire
from firmware_bridge.emulator import Emulator, FaultKnobs
from firmware_bridge.firmware import config
from firmware_bridge.firmware.app import Firmware
from firmware_bridge.firmware.board import Board

STEP_MS = 5
PEDAL_HOLD_MS = 120
SCALE_PERIOD_MS = 100


class EmulatorDevice:
    """The emulator, on a fake clock."""

    name = "emulator"

    def __init__(self) -> None:
        self.now_ms = 0
        self.emulator = Emulator(FaultKnobs(seed=7), clock_ms=lambda: self.now_ms)

    def write(self, data: bytes) -> None:
        self.emulator.receive(data)

    def read(self) -> bytes:
        return self.emulator.take_output()

    def step(self) -> None:
        self.emulator.tick()

    def lamps(self) -> tuple[bool, bool, bool]:
        return self.emulator.lamps

    def tone_hz(self) -> int:
        return self.emulator.tone_hz

    def press_pedal(self) -> None:
        self.emulator.press_pedal()

    def set_load_g(self, grams: float) -> None:
        self.emulator.set_load_g(grams)

    def set_scale_dead(self, dead: bool) -> None:
        self.emulator.scale_dead = dead


class _FakePort:
    def __init__(self) -> None:
        self.inbound = bytearray()
        self.outbound = bytearray()

    def read(self) -> bytes:
        data = bytes(self.inbound[:256])
        del self.inbound[:256]
        return data

    def write(self, data: bytes) -> None:
        self.outbound.extend(data)


class FirmwareDevice:
    """The reference firmware on the fake `machine`, with a simulated pedal contact and HX711."""

    name = "firmware"

    def __init__(self) -> None:
        fake_machine.reset()
        self.now_ms = 0
        self.chip = fake_machine.attach_hx711(config.HX711_SCK_PIN, config.HX711_DOUT_PIN)
        self.port = _FakePort()
        self.board = Board(fake_machine)
        self.firmware = Firmware(self.board, self.port, 0)
        self.load_g = 0.0
        self.scale_dead = False
        self._next_conversion_ms = 0
        self._press_starts: list[int] = []

    def write(self, data: bytes) -> None:
        self.port.inbound.extend(data)

    def read(self) -> bytes:
        data = bytes(self.port.outbound)
        self.port.outbound.clear()
        return data

    def step(self) -> None:
        self._drive_inputs()
        self.firmware.step(self.now_ms)

    def _drive_inputs(self) -> None:
        pressed = False
        for start in self._press_starts:
            into = self.now_ms - start
            if 0 <= into < PEDAL_HOLD_MS:
                # Contact bounce over the first 10 ms of the press.
                pressed = into >= 10 or (into // STEP_MS) % 2 == 0
        # The switch pulls the pin to ground when pressed.
        fake_machine.pins[config.PEDAL_PIN].set_input(0 if pressed else 1)
        if not self.scale_dead and self.now_ms >= self._next_conversion_ms:
            self._next_conversion_ms = self.now_ms + SCALE_PERIOD_MS
            counts = round(self.load_g * config.COUNTS_PER_G) + config.ZERO_COUNTS
            self.chip.convert(counts)

    def lamps(self) -> tuple[bool, bool, bool]:
        levels = [fake_machine.pins[number].value() for number in config.LAMP_PINS]
        lit = [level == (1 if config.LAMP_ACTIVE_HIGH else 0) for level in levels]
        return (lit[0], lit[1], lit[2])

    def tone_hz(self) -> int:
        pwm = fake_machine.pwms[config.BUZZER_PIN]
        return int(pwm.freq()) if pwm.duty_u16() > 0 else 0

    def press_pedal(self) -> None:
        start = self.now_ms
        if self._press_starts and start < self._press_starts[-1] + PEDAL_HOLD_MS + 50:
            start = self._press_starts[-1] + PEDAL_HOLD_MS + 50
        self._press_starts.append(start)

    def set_load_g(self, grams: float) -> None:
        self.load_g = grams

    def set_scale_dead(self, dead: bool) -> None:
        self.scale_dead = dead


Device = EmulatorDevice | FirmwareDevice
DEVICE_KINDS = {"emulator": EmulatorDevice, "firmware": FirmwareDevice}


@dataclass
class Received:
    """A frame the device sent, when, and its typed message."""

    at_ms: int
    frame: wire.Frame
    message: frames.Message


@dataclass
class Sample:
    """Outputs at one instant."""

    at_ms: int
    lamps: tuple[bool, bool, bool]
    tone_hz: int


@dataclass
class DeviceDriver:
    """Plays the host against a device: sends frames, advances the fake clock, collects frames and samples."""

    device: Device
    received: list[Received] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    decoder: wire.FrameDecoder = field(default_factory=wire.FrameDecoder)
    host_seq: int = 0
    rx_seq: int = 0

    @property
    def now_ms(self) -> int:
        return self.device.now_ms

    def send_bytes(self, data: bytes) -> None:
        self.device.write(data)

    def send(self, message: frames.Message, seq: int = 0, ack: int = 0) -> bytes:
        data = frames.encode(message, seq, ack)
        self.device.write(data)
        return data

    def send_command(self, message: frames.Message, ack: int = 0) -> int:
        """Send a sequenced command with the next host seq; return that seq."""
        self.host_seq = (self.host_seq + 1) & 0xFF
        self.send(message, self.host_seq, ack)
        return self.host_seq

    def advance(self, ms: int, heartbeat_every_ms: int = 0, ack: int | None = None) -> None:
        """Run the device for `ms`, optionally sending heartbeats (carrying `ack`) as a live host would."""
        end = self.device.now_ms + ms
        last_heartbeat = self.device.now_ms
        while self.device.now_ms < end:
            self.device.now_ms += STEP_MS
            if heartbeat_every_ms and self.device.now_ms - last_heartbeat >= heartbeat_every_ms:
                last_heartbeat = self.device.now_ms
                self.send(frames.Heartbeat(), 0, self.last_event_seq() if ack is None else ack)
            self.device.step()
            self._collect()
            self.samples.append(Sample(self.device.now_ms, self.device.lamps(), self.device.tone_hz()))

    def _collect(self) -> None:
        data = self.device.read()
        for frame in self.decoder.feed(data):
            if wire.is_sequenced(frame.ftype) and frame.seq == (self.rx_seq + 1) & 0xFF:
                self.rx_seq = frame.seq
            self.received.append(Received(self.device.now_ms, frame, frames.message_from_frame(frame)))

    def last_event_seq(self) -> int:
        """The seq of the newest sequenced frame received in order (what a host would ack)."""
        return self.rx_seq

    def messages(self, kind: type) -> list[Received]:
        return [item for item in self.received if isinstance(item.message, kind)]

    def clear(self) -> None:
        self.received.clear()
        self.samples.clear()

    def handshake(self, nonce: int = 0x1234, watchdog_ms: int = 2000) -> frames.HelloAck:
        self.send(frames.Hello(nonce, watchdog_ms))
        self.advance(STEP_MS)
        acks = [item.message for item in self.messages(frames.HelloAck)]
        assert acks, f"no HELLO_ACK from {self.device.name}"
        message = acks[-1]
        assert isinstance(message, frames.HelloAck)
        self.host_seq = 0
        self.rx_seq = 0
        return message

    # -- what the samples show -----------------------------------------------------------------------------

    def lamp_levels(self, index: int, since_ms: int = 0) -> list[bool]:
        return [s.lamps[index] for s in self.samples if s.at_ms >= since_ms]

    def beeps(self, since_ms: int = 0) -> list[tuple[int, int]]:
        """(start_ms, duration_ms) of every stretch the buzzer sounded since `since_ms`."""
        result: list[tuple[int, int]] = []
        start = -1
        for sample in self.samples:
            if sample.at_ms < since_ms:
                continue
            if sample.tone_hz and start < 0:
                start = sample.at_ms
            elif not sample.tone_hz and start >= 0:
                result.append((start, sample.at_ms - start))
                start = -1
        if start >= 0:
            result.append((start, self.samples[-1].at_ms - start + STEP_MS))
        return result


def toggles(levels: list[bool]) -> int:
    """How many times a sampled level changed."""
    return sum(1 for a, b in itertools.pairwise(levels) if a != b)
