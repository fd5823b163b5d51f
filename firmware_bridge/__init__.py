"""The serial link to the bench I/O controller: stack light, buzzer, foot pedal and scale.

- `BenchController` (host side, asyncio) talks to a real controller (`/dev/serial/by-id/...`) or to the in-process
  emulator (`sim://`), and reconnects by itself.
- `firmware_bridge.emulator` is the device side in Python (in-process, or on a pty for other programs).
- `firmware_bridge.core` is the protocol core shared with the MicroPython firmware in `firmware_bridge/firmware`.
- PROTOCOL.md next to this file is the wire protocol.
"""

from firmware_bridge.errors import BridgeError, FrameError, PortUrlError, TransportError
from firmware_bridge.events import (
    BenchEvent,
    ConnectionChanged,
    DeviceFault,
    PedalPressed,
    StableWeight,
    TareCompleted,
)
from firmware_bridge.host import BUZZER_PATTERNS, COLOURS, LIGHT_PATTERNS, BenchController, LinkTiming

__all__ = [
    "BUZZER_PATTERNS",
    "COLOURS",
    "LIGHT_PATTERNS",
    "BenchController",
    "BenchEvent",
    "BridgeError",
    "ConnectionChanged",
    "DeviceFault",
    "FrameError",
    "LinkTiming",
    "PedalPressed",
    "PortUrlError",
    "StableWeight",
    "TareCompleted",
    "TransportError",
]
