"""What a `BenchController` tells its listeners: pedal presses, stable weights, tares, faults, connection changes."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PedalPressed:
    """The foot pedal was pressed (debounced on the device). `press_no` counts presses since the device booted."""

    press_no: int
    device_ms: int


@dataclass(frozen=True, slots=True)
class StableWeight:
    """The scale settled at `weight_g` grams (relative to the last tare)."""

    weight_g: int
    device_ms: int


@dataclass(frozen=True, slots=True)
class TareCompleted:
    """A tare finished: `ok` is False when the scale did not settle in time (the zero was not changed)."""

    ok: bool


@dataclass(frozen=True, slots=True)
class DeviceFault:
    """A fault raised (`active`) or cleared on the device: `scale_timeout`, `scale_overload`, `event_overflow`."""

    code: str
    active: bool


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The link to the controller came up or went down; `reason` says why it went down (empty when up)."""

    connected: bool
    reason: str
    firmware_version: str | None


BenchEvent = PedalPressed | StableWeight | TareCompleted | DeviceFault | ConnectionChanged
