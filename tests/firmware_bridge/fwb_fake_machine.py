"""A fake `machine` module to run the firmware off the board: pins, PWM, WDT and an HX711 chip on two pins.

Written in the Python subset MicroPython runs, because the MicroPython test stages this file as `machine.py` and
runs the real firmware on the unix port with it. Module-level state, like the real module; `reset()` clears it.
"""

PWRON_RESET = 1
WDT_RESET = 3

pins = {}
pwms = {}
wdts = []


class _State:
    """Mutable module state (an object rather than `global` statements)."""

    def __init__(self):
        self.hx711 = None
        self.irq_disabled = 0
        self.reset_cause = PWRON_RESET


state = _State()


def reset():
    """Forget every pin, PWM, watchdog and chip (a fresh board)."""
    pins.clear()
    pwms.clear()
    wdts.clear()
    state.__init__()


class FakeHX711:
    """The chip's side of the two-wire protocol: DOUT low when a conversion is ready, one bit per SCK pulse."""

    def __init__(self, sck_pin, dout_pin):
        self.sck_pin = sck_pin
        self.dout_pin = dout_pin
        self.counts = 0
        self.ready = False
        self.pulses = 0
        self.reads = 0
        self.pulses_with_irq_enabled = 0

    def convert(self, counts):
        """A new conversion is ready with this (signed 24-bit) value."""
        self.counts = counts & 0xFFFFFF
        self.ready = True
        self.pulses = 0

    def dout(self):
        if not self.ready:
            return 1
        if self.pulses == 0:
            return 0
        if self.pulses > 24:
            return 1
        return (self.counts >> (24 - self.pulses)) & 1

    def clock(self, level):
        if level != 1 or not self.ready:
            return
        if state.irq_disabled == 0:
            self.pulses_with_irq_enabled += 1
        self.pulses += 1
        if self.pulses >= 25:
            self.ready = False
            self.pulses = 0
            self.reads += 1


def attach_hx711(sck_pin, dout_pin):
    """Wire a fake HX711 to these pin numbers and return it."""
    state.hx711 = FakeHX711(sck_pin, dout_pin)
    return state.hx711


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self.mode = mode
        self.pull = pull
        if value is not None:
            self._value = 1 if value else 0
        elif pull == Pin.PULL_UP:
            self._value = 1
        else:
            self._value = 0
        pins[pin_id] = self

    def value(self, level=None):
        chip = state.hx711
        if level is None:
            if chip is not None and self.id == chip.dout_pin:
                return chip.dout()
            return self._value
        self._value = 1 if level else 0
        if chip is not None and self.id == chip.sck_pin:
            chip.clock(self._value)
        return None

    def set_input(self, level):
        """Test hook: what the outside world drives on an input pin."""
        self._value = 1 if level else 0


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.pin = pin
        self._freq = freq
        self._duty = duty_u16
        pwms[pin.id] = self

    def freq(self, value=None):
        if value is None:
            return self._freq
        self._freq = value
        return None

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self._duty = value
        return None


class WDT:
    def __init__(self, id=0, timeout=5000):  # the real signature
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)

    def feed(self):
        self.feeds += 1


def disable_irq():
    state.irq_disabled += 1
    return state.irq_disabled


def enable_irq(irq_state):
    state.irq_disabled = irq_state - 1


def reset_cause():
    return state.reset_cause
