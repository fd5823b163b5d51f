"""Bit-banged driver for the HX711 load-cell amplifier (channel A, gain 128)."""

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from typing import Any

# 24 data pulses, then 1 more selects channel A / gain 128 for the next conversion.
EXTRA_PULSES = 1


class HX711:
    """Reads conversions when the chip signals one is ready (DOUT low); never waits for one."""

    def __init__(self, sck: "Any", dout: "Any", machine: "Any" = None) -> None:
        self._sck = sck
        self._dout = dout
        self._machine = machine
        sck.value(0)

    def ready(self) -> bool:
        """True when a conversion is waiting."""
        return bool(self._dout.value() == 0)

    def read(self) -> int | None:
        """The next conversion as a signed 24-bit count, or None if none is ready yet."""
        if self._dout.value() != 0:
            return None
        sck = self._sck
        dout = self._dout
        # SCK held high for more than 60 us powers the chip down; an interrupt mid-read could do that.
        irq_state = self._machine.disable_irq() if self._machine is not None else None
        try:
            value = 0
            for _ in range(24):
                sck.value(1)
                sck.value(0)
                value = (value << 1) | (dout.value() & 1)
            for _ in range(EXTRA_PULSES):
                sck.value(1)
                sck.value(0)
        finally:
            if irq_state is not None:
                self._machine.enable_irq(irq_state)
        if value & 0x800000:
            value -= 0x1000000
        return int(value)
