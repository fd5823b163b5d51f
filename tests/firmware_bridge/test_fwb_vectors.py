"""Byte-exact vectors: CRC, COBS and every worked frame example of PROTOCOL.md, read from the document itself."""

import binascii
import re
from pathlib import Path

import pytest
from fwb_harness import EmulatorDevice

from firmware_bridge import frames
from firmware_bridge.core import cobs, wire
from firmware_bridge.core.crc import crc16
from firmware_bridge.errors import CobsError, FrameError
from firmware_bridge.frames import BuzzerPattern, Capability, FaultCode, LightPattern, ResetCause, ResetReason

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "firmware_bridge" / "PROTOCOL.md"
TEXT = PROTOCOL_MD.read_text(encoding="utf-8")

# The messages the examples in PROTOCOL.md describe, by example name: (message, seq, ack).
EXAMPLES: dict[str, tuple[frames.Message, int, int]] = {
    "hello": (frames.Hello(0x1234, 2000), 0, 0),
    "hello_ack": (frames.HelloAck(0x1234, 1, 1, 0, 0, Capability(0x0F), 2000, ResetCause.POWER_ON), 0, 0),
    "heartbeat": (frames.Heartbeat(), 0, 2),
    "status": (frames.Status(wire.STATUS_SCALE_OK, 0), 0, 1),
    "ack": (frames.Ack(), 0, 1),
    "reset": (frames.Reset(ResetReason.WATCHDOG), 0, 0),
    "set_light": (frames.SetLight(LightPattern.OFF, LightPattern.OFF, LightPattern.STEADY), 1, 0),
    "set_buzzer": (frames.SetBuzzer(BuzzerPattern.WRONG_ITEM, 7), 2, 0),
    "tare": (frames.Tare(1), 3, 0),
    "set_scale": (frames.SetScale(600, 3), 4, 0),
    "pedal": (frames.Pedal(1, 70000), 1, 2),
    "weight": (frames.Weight(1250, 60000), 2, 2),
    "weight_negative": (frames.Weight(-15, 61000), 3, 2),
    "tare_done": (frames.TareDone(1, True), 4, 3),
    "fault": (frames.Fault(FaultCode.SCALE_TIMEOUT, True), 5, 4),
}


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def documented_frames() -> dict[str, tuple[bytes, bytes]]:
    """name -> (raw, wire) from the `ex:` / `raw:` / `wire:` lines of PROTOCOL.md."""
    found = {}
    for match in re.finditer(r"^ex:\s+(\w+).*\n^raw:\s+([0-9a-f ]+)\n^wire:\s+([0-9a-f ]+)$", TEXT, re.M):
        found[match.group(1)] = (_hex(match.group(2)), _hex(match.group(3)))
    return found


DOCUMENTED = documented_frames()


def test_every_documented_example_is_checked_and_every_checked_one_is_documented() -> None:
    assert set(DOCUMENTED) == set(EXAMPLES)


def test_every_frame_type_has_an_example() -> None:
    assert {message.TYPE for message, _seq, _ack in EXAMPLES.values()} == set(wire.TYPE_NAMES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_encodes_to_the_documented_bytes(name: str) -> None:
    message, seq, ack = EXAMPLES[name]
    raw, wire_bytes = DOCUMENTED[name]
    assert frames.encode_raw(message, seq, ack) == raw
    assert frames.encode(message, seq, ack) == wire_bytes


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_decodes_from_the_documented_bytes(name: str) -> None:
    message, seq, ack = EXAMPLES[name]
    _raw, wire_bytes = DOCUMENTED[name]
    assert frames.decode(wire_bytes) == frames.Decoded(1, seq, ack, message)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_crc_matches_an_independent_implementation(name: str) -> None:
    raw, _wire = DOCUMENTED[name]
    # binascii.crc_hqx is CRC-CCITT with a caller-chosen start value: 0xFFFF makes it CCITT-FALSE.
    assert int.from_bytes(raw[-2:], "big") == binascii.crc_hqx(raw[:-2], 0xFFFF) == crc16(raw[:-2])


def test_crc_check_value() -> None:
    match = re.search(r'^crc:\s+"(\w+)" -> ([0-9a-f ]+)$', TEXT, re.M)
    assert match is not None
    assert crc16(match.group(1).encode()) == int.from_bytes(_hex(match.group(2)), "big") == 0x29B1


def test_crc_can_be_chained() -> None:
    assert crc16(b"56789", crc16(b"1234")) == crc16(b"123456789")


def documented_cobs() -> list[tuple[bytes, bytes]]:
    pairs = []
    for match in re.finditer(r"^cobs:\s+(.+?) -> ([0-9a-f ]+)$", TEXT, re.M):
        source = b"" if match.group(1) == "(empty)" else _hex(match.group(1))
        pairs.append((source, _hex(match.group(2))))
    return pairs


@pytest.mark.parametrize(("source", "encoded"), documented_cobs())
def test_documented_cobs_vectors(source: bytes, encoded: bytes) -> None:
    assert cobs.encode(source) == encoded
    assert cobs.decode(encoded) == source


def test_cobs_vectors_are_present() -> None:
    assert len(documented_cobs()) >= 6


def test_cobs_long_runs_use_full_blocks() -> None:
    data = bytes(range(1, 255))  # 254 non-zero bytes: exactly one full block
    assert cobs.encode(data) == b"\xff" + data + b"\x01"
    assert cobs.encode(data + b"\x00") == b"\xff" + data + b"\x01\x01"
    assert cobs.decode(b"\xff" + data + b"\x01") == data
    longer = bytes([7]) * 600
    assert cobs.decode(cobs.encode(longer)) == longer


@pytest.mark.parametrize("bad", [b"", b"\x05\x11\x22", b"\x03\x11\x00", b"\x00"])
def test_cobs_rejects_malformed_input(bad: bytes) -> None:
    with pytest.raises(CobsError):
        cobs.decode(bad)


def test_bad_crc_length_and_layout_raise_frame_error() -> None:
    good = bytearray(DOCUMENTED["set_light"][1])
    good[-2] ^= 0x01
    with pytest.raises(FrameError, match="CRC"):
        frames.decode(bytes(good))
    with pytest.raises(FrameError, match="shorter"):
        wire.decode_raw(b"\x01\x05\x00\x00\x09")
    with pytest.raises(FrameError, match="needs"):
        frames.message_from_frame(wire.Frame(wire.WEIGHT, 1, 0, b"\x00\x01"))
    with pytest.raises(FrameError, match="bad value"):
        frames.message_from_frame(wire.Frame(wire.SET_LIGHT, 1, 0, b"\x00\x09\x00"))
    with pytest.raises(FrameError):
        wire.encode_raw(wire.ACK, 0, 0, bytes(33))
    with pytest.raises(FrameError):
        wire.pack_payload(wire.HELLO, (70000, 1))
    with pytest.raises(FrameError):
        wire.pack_payload(wire.WEIGHT, (2**31, 0))


def test_unknown_types_decode_as_unknown_and_trailing_bytes_are_ignored() -> None:
    decoded = frames.decode(wire.encode_frame(0x7E, 9, 3, b"\x01\x02"))
    assert decoded.message == frames.Unknown(0x7E, b"\x01\x02")
    longer = frames.decode(wire.encode_frame(wire.TARE, 1, 0, b"\x05\xaa\xbb"))
    assert longer.message == frames.Tare(5)


def session_lines() -> list[tuple[str, bytes]]:
    lines = []
    for match in re.finditer(r"^(host|device) → (?:host|device)\s+((?:[0-9a-f]{2} )+)", TEXT, re.M):
        lines.append((match.group(1), _hex(match.group(2).strip())))
    return lines


def test_the_documented_session_replays_against_the_emulator() -> None:
    lines = session_lines()
    assert [who for who, _data in lines] == ["host", "device", "host", "device", "device", "host"]
    device = EmulatorDevice()
    device.read()  # its boot RESET, sent before the session
    for who, data in lines:
        if who == "host":
            device.write(data)
            device.now_ms += 1
            continue
        if frames.decode(data).message.TYPE == wire.PEDAL:
            device.now_ms = 100
            device.press_pedal()  # bounces for 6 ms, then 20 ms of debounce: the event says 126 ms
            while device.now_ms < 200 and not device.emulator.engine.presses:
                device.now_ms += 1
                device.step()
        assert device.read() == data
