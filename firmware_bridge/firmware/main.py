"""Board entry point: MicroPython runs /main.py at boot. `deploy.py` copies this file there."""

import time

import machine  # type: ignore[import-not-found]

from firmware_bridge.firmware.app import main

main(machine, time)
