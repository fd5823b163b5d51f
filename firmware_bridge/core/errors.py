"""The root of the bridge's exception tree, shared with the firmware (see `firmware_bridge.errors`)."""


class BridgeError(Exception):
    """Root of every error the firmware bridge raises on purpose."""


class FrameError(BridgeError):
    """Bytes that are not a valid frame: bad COBS, bad CRC, too short, too long, or an unknown layout."""
