"""The controller's hardware as the protocol engine sees it: lamps, buzzer, pedal and scale on RP2040 pins."""

from firmware_bridge.firmware import config
from firmware_bridge.firmware.hx711 import HX711

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]

if TYPE_CHECKING:
    from typing import Any

BUZZER_DUTY = 32768  # 50 % duty: loudest for a piezo at its tone


class Board:
    """Implements the board interface of `DeviceEngine` with the `machine` module passed in (real or fake)."""

    def __init__(self, machine: "Any") -> None:
        pin = machine.Pin
        off = 0 if config.LAMP_ACTIVE_HIGH else 1
        self._lamps = [pin(number, pin.OUT, value=off) for number in config.LAMP_PINS]
        self._pwm = machine.PWM(pin(config.BUZZER_PIN))
        self._pwm.duty_u16(0)
        self._pedal = pin(config.PEDAL_PIN, pin.IN, pin.PULL_UP)
        self._scale = HX711(
            pin(config.HX711_SCK_PIN, pin.OUT, value=0),
            pin(config.HX711_DOUT_PIN, pin.IN),
            machine,
        )

    def set_lamps(self, red: bool, amber: bool, green: bool) -> None:
        """Switch the stack-light lamps."""
        for lamp, lit in ((self._lamps[0], red), (self._lamps[1], amber), (self._lamps[2], green)):
            lamp.value(1 if lit == config.LAMP_ACTIVE_HIGH else 0)

    def set_tone(self, freq_hz: int) -> None:
        """Sound the buzzer at `freq_hz`, or silence it (0)."""
        if freq_hz <= 0:
            self._pwm.duty_u16(0)
            return
        self._pwm.freq(freq_hz)
        self._pwm.duty_u16(BUZZER_DUTY)

    def pedal_raw(self) -> bool:
        """The raw foot switch: True while pressed (the pin is pulled up, the switch pulls it to GND)."""
        return bool(self._pedal.value() == 0)

    def read_scale(self) -> int | None:
        """A new HX711 conversion, or None."""
        return self._scale.read()
