"""Reference MicroPython firmware for the bench I/O controller on an RP2040 (e.g. a Raspberry Pi Pico).

Runs `firmware_bridge.core.device.DeviceEngine` (the same engine as the emulator) on real pins: lamps on GPIO,
buzzer by PWM, pedal with pull-up, HX711 load-cell amplifier. `deploy.py` stages the files for `mpremote`.
Nothing here may import from the host side of `firmware_bridge`.
"""
