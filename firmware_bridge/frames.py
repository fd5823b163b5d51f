"""Typed frames for the host: one frozen dataclass per frame type, with encode/decode to and from the wire.

The byte layouts live in `firmware_bridge.core.wire` (shared with the firmware); this module gives them names and
types so host code can `match` on messages. `encode(message, seq, ack)` returns the bytes to write (COBS + 0x00);
`decode(data)` parses one frame and raises only `FrameError`.
"""

from dataclasses import dataclass, fields
from enum import IntEnum, IntFlag
from typing import ClassVar, Self

from firmware_bridge.core import patterns, wire
from firmware_bridge.core.errors import FrameError

PROTOCOL_VERSION = wire.PROTOCOL_VERSION


class LightPattern(IntEnum):
    """Pattern of one stack-light lamp."""

    OFF = patterns.LIGHT_OFF
    STEADY = patterns.LIGHT_STEADY
    BLINK = patterns.LIGHT_BLINK
    FAST_BLINK = patterns.LIGHT_FAST_BLINK


class BuzzerPattern(IntEnum):
    """Named buzzer sequences (timings in `firmware_bridge.core.patterns`)."""

    OFF = patterns.BUZZER_OFF
    OK = patterns.BUZZER_OK
    WRONG_ITEM = patterns.BUZZER_WRONG_ITEM
    OVER_QUANTITY = patterns.BUZZER_OVER_QUANTITY
    BLOCKED = patterns.BUZZER_BLOCKED
    NEEDS_SUPERVISOR = patterns.BUZZER_NEEDS_SUPERVISOR
    FAULT = patterns.BUZZER_FAULT
    ERROR = patterns.BUZZER_ERROR


class Capability(IntFlag):
    """What the controller has, from HELLO_ACK."""

    LIGHT = wire.CAP_LIGHT
    BUZZER = wire.CAP_BUZZER
    PEDAL = wire.CAP_PEDAL
    SCALE = wire.CAP_SCALE


class ResetCause(IntEnum):
    """Why the controller last started."""

    UNKNOWN = wire.RESET_CAUSE_UNKNOWN
    POWER_ON = wire.RESET_CAUSE_POWER_ON
    WATCHDOG = wire.RESET_CAUSE_WATCHDOG
    SOFT = wire.RESET_CAUSE_SOFT


class ResetReason(IntEnum):
    """Why the controller answered RESET (it has no session for us)."""

    NO_SESSION = wire.RESET_NO_SESSION
    WATCHDOG = wire.RESET_WATCHDOG
    REBOOTED = wire.RESET_REBOOTED


class FaultCode(IntEnum):
    """Device fault codes."""

    SCALE_TIMEOUT = wire.FAULT_SCALE_TIMEOUT
    SCALE_OVERLOAD = wire.FAULT_SCALE_OVERLOAD
    EVENT_OVERFLOW = wire.FAULT_EVENT_OVERFLOW


class _Message:
    """Base of the typed frames: payload fields are the dataclass fields, in order."""

    TYPE: ClassVar[int]

    def payload(self) -> bytes:
        """The payload bytes of this message."""
        values = tuple(int(getattr(self, f.name)) for f in fields(self))  # type: ignore[arg-type]
        return wire.pack_payload(self.TYPE, values)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        """Parse a payload of this type. Raises `FrameError` if it is short or holds an unknown value."""
        values = wire.unpack_payload(cls.TYPE, payload)
        try:
            return cls._from_values(values)
        except ValueError as err:
            raise FrameError(f"bad value in {cls.__name__}: {err}") from err

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(*values)


@dataclass(frozen=True, slots=True)
class Hello(_Message):
    """Host opens a session; the device will consider the host gone after `watchdog_ms` of silence."""

    TYPE: ClassVar[int] = wire.HELLO
    nonce: int
    watchdog_ms: int


@dataclass(frozen=True, slots=True)
class HelloAck(_Message):
    """Device accepts a session: versions, capabilities, the watchdog it applies and why it last reset."""

    TYPE: ClassVar[int] = wire.HELLO_ACK
    nonce: int
    protocol_version: int
    fw_major: int
    fw_minor: int
    fw_patch: int
    capabilities: Capability
    watchdog_ms: int
    reset_cause: ResetCause

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        nonce, proto, major, minor, patch, caps, watchdog_ms, cause = values
        return cls(nonce, proto, major, minor, patch, Capability(caps), watchdog_ms, ResetCause(cause))

    @property
    def firmware_version(self) -> str:
        """Firmware version as `major.minor.patch`."""
        return f"{self.fw_major}.{self.fw_minor}.{self.fw_patch}"


@dataclass(frozen=True, slots=True)
class Heartbeat(_Message):
    """Host is alive (feeds the device watchdog); the device answers with STATUS."""

    TYPE: ClassVar[int] = wire.HEARTBEAT


@dataclass(frozen=True, slots=True)
class Status(_Message):
    """Device's answer to a heartbeat: flags (`wire.STATUS_*`) and a count of bad frames it received."""

    TYPE: ClassVar[int] = wire.STATUS
    flags: int
    rx_errors: int


@dataclass(frozen=True, slots=True)
class Ack(_Message):
    """A bare acknowledgement (the ack is in the header)."""

    TYPE: ClassVar[int] = wire.ACK


@dataclass(frozen=True, slots=True)
class Reset(_Message):
    """Device has no session for this host (booted, watchdog expired, or never had one): say HELLO again."""

    TYPE: ClassVar[int] = wire.RESET
    reason: ResetReason

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(ResetReason(values[0]))


@dataclass(frozen=True, slots=True)
class SetLight(_Message):
    """The whole stack-light state: one pattern per lamp."""

    TYPE: ClassVar[int] = wire.SET_LIGHT
    red: LightPattern
    amber: LightPattern
    green: LightPattern

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(LightPattern(values[0]), LightPattern(values[1]), LightPattern(values[2]))


@dataclass(frozen=True, slots=True)
class SetBuzzer(_Message):
    """The buzzer state: which pattern, and which play of it (a new `play_id` replays the same pattern)."""

    TYPE: ClassVar[int] = wire.SET_BUZZER
    pattern: BuzzerPattern
    play_id: int

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(BuzzerPattern(values[0]), values[1])


@dataclass(frozen=True, slots=True)
class Tare(_Message):
    """Zero the scale at its next stable reading; answered by TARE_DONE with the same id."""

    TYPE: ClassVar[int] = wire.TARE
    tare_id: int


@dataclass(frozen=True, slots=True)
class SetScale(_Message):
    """Scale settle window and stability band."""

    TYPE: ClassVar[int] = wire.SET_SCALE
    settle_ms: int
    band_g: int


@dataclass(frozen=True, slots=True)
class Pedal(_Message):
    """The pedal was pressed."""

    TYPE: ClassVar[int] = wire.PEDAL
    press_no: int
    uptime_ms: int


@dataclass(frozen=True, slots=True)
class Weight(_Message):
    """The scale settled at a new weight."""

    TYPE: ClassVar[int] = wire.WEIGHT
    weight_g: int
    uptime_ms: int


@dataclass(frozen=True, slots=True)
class TareDone(_Message):
    """A tare finished (`ok` False: the scale did not settle within the device's tare timeout)."""

    TYPE: ClassVar[int] = wire.TARE_DONE
    tare_id: int
    ok: bool

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(values[0], bool(values[1]))


@dataclass(frozen=True, slots=True)
class Fault(_Message):
    """A device fault was raised (`active`) or cleared."""

    TYPE: ClassVar[int] = wire.FAULT
    code: FaultCode
    active: bool

    @classmethod
    def _from_values(cls, values: tuple[int, ...]) -> Self:
        return cls(FaultCode(values[0]), bool(values[1]))


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed frame of a type this host does not know (e.g. from newer firmware)."""

    ftype: int
    raw_payload: bytes

    @property
    def TYPE(self) -> int:
        """The frame type."""
        return self.ftype

    def payload(self) -> bytes:
        """The payload bytes as received."""
        return self.raw_payload


Message = (
    Hello
    | HelloAck
    | Heartbeat
    | Status
    | Ack
    | Reset
    | SetLight
    | SetBuzzer
    | Tare
    | SetScale
    | Pedal
    | Weight
    | TareDone
    | Fault
    | Unknown
)

MESSAGE_TYPES: dict[int, type[_Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        HelloAck,
        Heartbeat,
        Status,
        Ack,
        Reset,
        SetLight,
        SetBuzzer,
        Tare,
        SetScale,
        Pedal,
        Weight,
        TareDone,
        Fault,
    )
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded frame: header fields and the typed message."""

    version: int
    seq: int
    ack: int
    message: Message


def message_from_frame(frame: wire.Frame) -> Message:
    """The typed message of a raw core frame. Raises `FrameError` for a bad payload of a known type."""
    cls = MESSAGE_TYPES.get(frame.ftype)
    if cls is None:
        return Unknown(frame.ftype, frame.payload)
    return cls.from_payload(frame.payload)  # type: ignore[return-value]


def encode_raw(message: Message, seq: int = 0, ack: int = 0, version: int = PROTOCOL_VERSION) -> bytes:
    """Header + payload + CRC of `message`, before COBS (as in PROTOCOL.md's worked examples)."""
    return wire.encode_raw(message.TYPE, seq, ack, message.payload(), version)


def encode(message: Message, seq: int = 0, ack: int = 0, version: int = PROTOCOL_VERSION) -> bytes:
    """The bytes to write for `message`: COBS-encoded frame plus the 0x00 delimiter."""
    return wire.encode_frame(message.TYPE, seq, ack, message.payload(), version)


def decode(data: bytes) -> Decoded:
    """Decode one frame (with or without its 0x00). Raises `FrameError` and nothing else for bad input."""
    frame = wire.decode_frame(bytes(data))
    return Decoded(frame.version, frame.seq, frame.ack, message_from_frame(frame))
