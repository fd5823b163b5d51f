"""The bridge's exceptions, one tree with one root.

    BridgeError                 root of everything raised on purpose by firmware_bridge
    ├── FrameError              bytes that are not a valid frame (COBS, CRC, length, layout); also from the core
    │   └── CobsError           invalid COBS encoding
    ├── PortUrlError            a port URL that cannot be used (unknown scheme, unknown or bad sim:// knob)
    └── TransportError          the port could not be opened, or failed while in use (unplug, I/O error)

Lower-layer errors (pyserial's SerialException, OSError) are translated into TransportError at the transport
boundary, with `raise ... from err`, so callers handle one tree.
"""

from firmware_bridge.core.cobs import CobsError
from firmware_bridge.core.errors import BridgeError, FrameError

__all__ = ["BridgeError", "CobsError", "FrameError", "PortUrlError", "TransportError"]


class PortUrlError(BridgeError, ValueError):
    """A port URL that cannot be used: unknown scheme, or a `sim://` knob that is unknown or out of range."""


class TransportError(BridgeError):
    """The serial port (or simulated port) could not be opened, or failed while in use."""
