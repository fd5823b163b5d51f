"""Runs under the MicroPython unix port (see test_fwb_micropython.py): the protocol core and the firmware, on the
staged board filesystem with `fwb_fake_machine.py` as `machine`. Prints one line per check and `ALL OK` at the end;
any failure raises, which makes the interpreter exit non-zero."""

import machine

from firmware_bridge.core import cobs, wire
from firmware_bridge.core.crc import crc16
from firmware_bridge.core.link import Link
from firmware_bridge.firmware import config
from firmware_bridge.firmware.app import Firmware, main
from firmware_bridge.firmware.board import Board


def check(name, condition):
    if not condition:
        raise AssertionError(name)
    print("ok", name)


def unhex(text):
    return bytes(int(part, 16) for part in text.split())


# Vectors from PROTOCOL.md.
check("crc", crc16(b"123456789") == 0x29B1)
check("cobs", cobs.encode(unhex("11 22 00 33")) == unhex("03 11 22 02 33"))
check("cobs empty", cobs.encode(b"") == b"\x01" and cobs.decode(b"\x01") == b"")
hello = unhex("03 01 01 01 07 12 34 07 d0 73 cc 00")
check("hello frame", wire.encode_frame(wire.HELLO, 0, 0, wire.pack_payload(wire.HELLO, (0x1234, 2000))) == hello)
check(
    "weight frame",
    wire.encode_frame(wire.WEIGHT, 3, 2, wire.pack_payload(wire.WEIGHT, (-15, 61000)))
    == unhex("09 01 21 03 02 ff ff ff f1 01 05 ee 48 88 e0 00"),
)
try:
    wire.pack_payload(wire.HELLO, (70000, 1))
    check("range check", False)
except wire.FrameError:
    check("range check", True)
try:
    wire.decode_frame(b"\x05\x01\x02")
    check("bad frame raises", False)
except wire.FrameError:
    check("bad frame raises", True)
decoder = wire.FrameDecoder()
check("resync", decoder.feed(bytes(range(1, 120)) + b"\x00" + hello) == [wire.decode_frame(hello)])

# Two links, every frame delivered once and in order, across the 255 -> 0 wrap.
a = Link()
b = Link()
got = []
for n in range(300):
    a.send(wire.SET_LIGHT, bytes((n & 0xFF, 0, 0)), n)
    got.extend(f.payload[0] for f in b.receive(a.take_output(), n))
    a.receive(b.take_output(), n)
check("link wrap", got == [n & 0xFF for n in range(300)] and a.idle)


class Port:
    def __init__(self):
        self.inbound = bytearray()
        self.outbound = bytearray()

    def read(self):
        data = bytes(self.inbound)
        self.inbound = bytearray()
        return data

    def write(self, data):
        self.outbound.extend(data)

    def frames(self):
        found = wire.FrameDecoder().feed(bytes(self.outbound))
        self.outbound = bytearray()
        return found


# The firmware on the fake board.
machine.reset()
chip = machine.attach_hx711(config.HX711_SCK_PIN, config.HX711_DOUT_PIN)
port = Port()
firmware = Firmware(Board(machine), port, 0)
check("boot reset", [(f.ftype, f.payload) for f in port.frames()] == [(wire.RESET, b"\x03")])
port.inbound.extend(hello)
firmware.step(1)
check("hello ack", bytes(port.outbound) == unhex("03 01 02 01 05 12 34 01 01 01 01 07 0f 07 d0 01 1b 55 00"))
port.outbound = bytearray()
port.inbound.extend(unhex("04 01 10 01 01 01 04 01 e9 5b 00"))  # SET_LIGHT seq 1: green steady
firmware.step(2)
check("set light acked", [(f.ftype, f.ack) for f in port.frames()] == [(wire.ACK, 1)])
check("green lamp on", machine.pins[config.LAMP_PINS[2]].value() == 1)
check("red lamp off", machine.pins[config.LAMP_PINS[0]].value() == 0)

events = []
for i in range(300):  # 1.5 s in 5 ms steps: a pedal press and a steady 1000 g load
    now = 5 + 5 * i
    machine.pins[config.PEDAL_PIN].set_input(0 if 100 <= now < 200 else 1)
    if i % 20 == 0:  # the HX711 converts at 10 Hz
        chip.convert(round(1000 * config.COUNTS_PER_G) + config.ZERO_COUNTS)
    if i % 40 == 0:
        port.inbound.extend(wire.encode_frame(wire.HEARTBEAT, 0, firmware.engine.link.tx_seq, b""))
    firmware.step(now)
    events.extend(f for f in port.frames() if f.ftype in (wire.PEDAL, wire.WEIGHT))
pedals = [wire.unpack_payload(wire.PEDAL, f.payload)[0] for f in events if f.ftype == wire.PEDAL]
weights = [wire.unpack_payload(wire.WEIGHT, f.payload)[0] for f in events if f.ftype == wire.WEIGHT]
check("pedal", pedals[:1] == [1])
check("weight", weights[:1] == [1000])
check("hx711 irq off while clocking", chip.pulses_with_irq_enabled == 0 and chip.reads > 5)


class FakeTime:
    def __init__(self):
        self.ms = (1 << 30) - 20  # just before ticks_ms wraps

    def ticks_ms(self):
        return self.ms & ((1 << 30) - 1)

    def ticks_diff(self, a, b):
        return ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29)

    def sleep_ms(self, ms):
        self.ms += ms


machine.reset()
machine.attach_hx711(config.HX711_SCK_PIN, config.HX711_DOUT_PIN)
port = Port()
firmware = main(machine, FakeTime(), port, 50)
check("main loop", machine.wdts[0].feeds == 50 and firmware.engine.link.tx_frames >= 1)
print("ALL OK")
