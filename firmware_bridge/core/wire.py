"""Frame layout: constants, the raw `Frame`, frame encode/decode, the stream decoder and payload layouts.

A frame on the wire is `COBS(header + payload + crc) 0x00`, where the header is four bytes
`version, type, seq, ack` and the CRC is CRC-16/CCITT-FALSE over header and payload, big-endian.
Types below 0x10 are link-control frames (not sequenced: their seq byte is 0 and ignored); types from 0x10 up are
sequenced, acknowledged and retransmitted. PROTOCOL.md is the normative description; this module is its code.
"""

import struct

from . import cobs
from .crc import crc16
from .errors import FrameError

PROTOCOL_VERSION = 1

HEADER_LEN = 4
CRC_LEN = 2
MAX_PAYLOAD = 32
MIN_RAW = HEADER_LEN + CRC_LEN
MAX_RAW = HEADER_LEN + MAX_PAYLOAD + CRC_LEN
# COBS adds one byte per started 254 bytes; frames are far below that, so one byte of overhead.
MAX_ENCODED = MAX_RAW + 1

# Link-control frames (unsequenced).
HELLO = 0x01
HELLO_ACK = 0x02
HEARTBEAT = 0x03
STATUS = 0x04
ACK = 0x05
RESET = 0x06
FIRST_SEQUENCED = 0x10
# Host -> device commands (sequenced, idempotent set-state).
SET_LIGHT = 0x10
SET_BUZZER = 0x11
TARE = 0x12
SET_SCALE = 0x13
# Device -> host events (sequenced, the device's own seq space).
PEDAL = 0x20
WEIGHT = 0x21
TARE_DONE = 0x22
FAULT = 0x23

TYPE_NAMES = {
    HELLO: "HELLO",
    HELLO_ACK: "HELLO_ACK",
    HEARTBEAT: "HEARTBEAT",
    STATUS: "STATUS",
    ACK: "ACK",
    RESET: "RESET",
    SET_LIGHT: "SET_LIGHT",
    SET_BUZZER: "SET_BUZZER",
    TARE: "TARE",
    SET_SCALE: "SET_SCALE",
    PEDAL: "PEDAL",
    WEIGHT: "WEIGHT",
    TARE_DONE: "TARE_DONE",
    FAULT: "FAULT",
}

# Payload layouts (struct formats, big-endian). A receiver ignores bytes past the layout it knows, so a later
# minor revision may append fields without breaking older peers.
PAYLOAD_FORMATS = {
    HELLO: ">HH",  # nonce, watchdog_ms
    HELLO_ACK: ">HBBBBHHB",  # nonce, protocol, fw major, fw minor, fw patch, capabilities, watchdog_ms, reset cause
    HEARTBEAT: "",
    STATUS: ">BH",  # flags, rx_errors
    ACK: "",
    RESET: ">B",  # reason
    SET_LIGHT: ">BBB",  # red, amber, green light pattern ids
    SET_BUZZER: ">BB",  # buzzer pattern id, play id
    TARE: ">B",  # tare id
    SET_SCALE: ">HH",  # settle_ms, band_g
    PEDAL: ">HI",  # press number, device uptime ms
    WEIGHT: ">iI",  # weight_g (signed), device uptime ms
    TARE_DONE: ">BB",  # tare id, ok
    FAULT: ">BB",  # fault code, active
}

# Capability bits (HELLO_ACK).
CAP_LIGHT = 0x0001
CAP_BUZZER = 0x0002
CAP_PEDAL = 0x0004
CAP_SCALE = 0x0008
CAP_ALL = CAP_LIGHT | CAP_BUZZER | CAP_PEDAL | CAP_SCALE

# Why the device last reset (HELLO_ACK).
RESET_CAUSE_UNKNOWN = 0
RESET_CAUSE_POWER_ON = 1
RESET_CAUSE_WATCHDOG = 2
RESET_CAUSE_SOFT = 3

# Why the device says "no session" (RESET frame).
RESET_NO_SESSION = 1
RESET_WATCHDOG = 2
RESET_REBOOTED = 3
RESET_REASON_NAMES = {RESET_NO_SESSION: "no_session", RESET_WATCHDOG: "watchdog", RESET_REBOOTED: "rebooted"}

# STATUS flags.
STATUS_SCALE_OK = 0x01
STATUS_FAULT = 0x02
STATUS_TARING = 0x04

# FAULT codes.
FAULT_SCALE_TIMEOUT = 1
FAULT_SCALE_OVERLOAD = 2
FAULT_EVENT_OVERFLOW = 3

# Device watchdog: the host asks for a timeout in HELLO; the device clamps it to this range.
WATCHDOG_MIN_MS = 100
WATCHDOG_MAX_MS = 60000
WATCHDOG_DEFAULT_MS = 2000


def is_sequenced(ftype: int) -> bool:
    """True for frame types that carry a sequence number and must be acknowledged."""
    return ftype >= FIRST_SEQUENCED


class Frame:
    """A decoded frame: header fields and the raw payload. Plain class so that MicroPython can use it."""

    __slots__ = ("ack", "ftype", "payload", "seq", "version")

    def __init__(
        self, ftype: int, seq: int = 0, ack: int = 0, payload: bytes = b"", version: int = PROTOCOL_VERSION
    ) -> None:
        self.ftype = ftype
        self.seq = seq
        self.ack = ack
        self.payload = bytes(payload)
        self.version = version

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (self.ftype, self.seq, self.ack, self.payload, self.version) == (
            other.ftype,
            other.seq,
            other.ack,
            other.payload,
            other.version,
        )

    def __hash__(self) -> int:
        return hash((self.ftype, self.seq, self.ack, self.payload, self.version))

    def __repr__(self) -> str:
        name = TYPE_NAMES.get(self.ftype, hex(self.ftype))
        return f"Frame({name} seq={self.seq} ack={self.ack} payload={self.payload!r} v{self.version})"


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise FrameError(f"{name} out of range: {value}")


def encode_raw(ftype: int, seq: int, ack: int, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """Header + payload + CRC, before COBS (what the CRC and the worked examples in PROTOCOL.md cover)."""
    _check_byte("type", ftype)
    _check_byte("seq", seq)
    _check_byte("ack", ack)
    _check_byte("version", version)
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((version, ftype, seq, ack)) + bytes(payload)
    return body + crc16(body).to_bytes(2, "big")


def encode_frame(ftype: int, seq: int, ack: int, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """The bytes to write for one frame: COBS-encoded header + payload + CRC, then the 0x00 delimiter."""
    return cobs.encode(encode_raw(ftype, seq, ack, payload, version)) + b"\x00"


def decode_raw(raw: bytes) -> Frame:
    """Check length and CRC of a COBS-decoded frame and split it into a `Frame`. Raises `FrameError`."""
    if len(raw) < MIN_RAW:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than {MIN_RAW}")
    if len(raw) > MAX_RAW:
        raise FrameError(f"frame of {len(raw)} bytes is longer than {MAX_RAW}")
    body = raw[:-CRC_LEN]
    expected = (raw[-2] << 8) | raw[-1]
    actual = crc16(body)
    if actual != expected:
        raise FrameError(f"bad CRC: got {expected:04x}, computed {actual:04x}")
    return Frame(body[1], body[2], body[3], body[HEADER_LEN:], body[0])


def decode_frame(encoded: bytes) -> Frame:
    """Decode one frame as read from the wire, with or without its trailing 0x00. Raises `FrameError`."""
    if encoded and encoded[-1] == 0:
        encoded = encoded[:-1]
    if len(encoded) > MAX_ENCODED:
        raise FrameError(f"encoded frame of {len(encoded)} bytes is longer than {MAX_ENCODED}")
    return decode_raw(cobs.decode(encoded))


class FrameDecoder:
    """Splits a byte stream at 0x00 delimiters and decodes each frame; never raises.

    A bad frame (broken COBS, bad CRC, wrong length) is counted and dropped; decoding starts again after the next
    0x00, so any garbage costs at most the frame it lands in. Bytes past `MAX_ENCODED` without a delimiter are
    discarded up to the next 0x00, which bounds memory on the device.
    """

    def __init__(self, max_encoded: int = MAX_ENCODED) -> None:
        self.max_encoded = max_encoded
        self.errors = 0
        self.last_error = ""
        self._buf = bytearray()
        self._overflow = False

    def reset(self) -> None:
        """Forget any partial frame (e.g. after reopening the port)."""
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[Frame]:
        """Consume `data`; return the frames completed by it, in order."""
        frames = []
        for byte in data:
            if byte != 0:
                if self._overflow:
                    continue
                if len(self._buf) >= self.max_encoded:
                    self._overflow = True
                    self._buf = bytearray()
                    continue
                self._buf.append(byte)
                continue
            if self._overflow:
                self._overflow = False
                self._error("oversize frame dropped")
                continue
            if not self._buf:
                # Empty frames are legal filler: senders may write a lone 0x00 to flush a receiver's partial frame.
                continue
            encoded = bytes(self._buf)
            self._buf = bytearray()
            try:
                frames.append(decode_frame(encoded))
            except FrameError as err:
                self._error(str(err))
        return frames

    def _error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message


_FIELD_RANGES = {
    "B": (0, 0xFF),
    "H": (0, 0xFFFF),
    "I": (0, 0xFFFFFFFF),
    "i": (-0x80000000, 0x7FFFFFFF),
}


def payload_size(ftype: int) -> int:
    """Size in bytes of the payload layout of `ftype`. Raises `FrameError` for a type without a known layout."""
    fmt = PAYLOAD_FORMATS.get(ftype)
    if fmt is None:
        raise FrameError(f"no payload layout for type 0x{ftype:02x}")
    return struct.calcsize(fmt) if fmt else 0


def pack_payload(ftype: int, values: tuple[int, ...]) -> bytes:
    """Pack `values` with the layout of `ftype`. Raises `FrameError` if they do not fit it."""
    fmt = PAYLOAD_FORMATS.get(ftype)
    if fmt is None:
        raise FrameError(f"no payload layout for type 0x{ftype:02x}")
    if not fmt:
        if values:
            raise FrameError(f"type 0x{ftype:02x} takes no payload")
        return b""
    codes = fmt[1:]
    if len(values) != len(codes):
        raise FrameError(f"type 0x{ftype:02x} takes {len(codes)} values, got {len(values)}")
    for i in range(len(codes)):  # no zip(strict=...) on MicroPython; lengths are checked above
        code = codes[i]
        value = values[i]
        low, high = _FIELD_RANGES[code]
        # Checked here because MicroPython's struct.pack silently truncates out-of-range values.
        if not isinstance(value, int) or not low <= value <= high:
            raise FrameError(f"value {value!r} does not fit field '{code}' of type 0x{ftype:02x}")
    return struct.pack(fmt, *values)


def unpack_payload(ftype: int, payload: bytes) -> tuple[int, ...]:
    """Unpack the payload of a frame of type `ftype`; bytes past the known layout are ignored.

    Raises `FrameError` for a type without a known layout or a payload shorter than its layout.
    """
    size = payload_size(ftype)
    if len(payload) < size:
        raise FrameError(f"payload of type 0x{ftype:02x} has {len(payload)} bytes, needs {size}")
    if size == 0:
        return ()
    return tuple(struct.unpack(PAYLOAD_FORMATS[ftype], bytes(payload[:size])))
