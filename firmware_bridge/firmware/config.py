"""Board wiring and calibration of the reference firmware. Edit to match your controller, then deploy."""

# GPIO numbers (RP2040 "GPn", not physical pin numbers).
LAMP_PINS = (2, 3, 4)  # red, amber, green: each drives a MOSFET or relay channel of the stack light
LAMP_ACTIVE_HIGH = True  # False for relay boards that switch on a low input
BUZZER_PIN = 15  # passive piezo (through a transistor); PWM sets the tone
PEDAL_PIN = 16  # foot switch to GND; internal pull-up, so pressed reads 0
HX711_SCK_PIN = 17
HX711_DOUT_PIN = 18

# Scale calibration: raw HX711 counts per gram, and the raw reading with an empty platform.
COUNTS_PER_G = 420.0
ZERO_COUNTS = 0

PEDAL_DEBOUNCE_MS = 20
# The chip's own watchdog: a firmware hang resets the board (which boots into the safe state). RP2040 max 8388 ms.
HW_WATCHDOG_MS = 5000
LOOP_SLEEP_MS = 2

# None: talk over the board's own USB port (USB CDC, /dev/serial/by-id/usb-MicroPython_...).
# 0 or 1: use that hardware UART instead (e.g. through a USB-serial adapter), on the pins below.
UART_ID = None
UART_BAUD = 115200
UART_TX_PIN = 0
UART_RX_PIN = 1
