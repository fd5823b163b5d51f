"""Stack light and buzzer patterns: their wire ids, names, and timing, shared by the firmware and the emulator.

The device plays every pattern itself from these tables, so a late or repeated frame can never stretch or double a
sound: the host only says which pattern (and, for the buzzer, which play of it) should be current.
"""

LIGHT_OFF = 0
LIGHT_STEADY = 1
LIGHT_BLINK = 2
LIGHT_FAST_BLINK = 3
LIGHT_NAMES = ("off", "steady", "blink", "fast_blink")

# Half periods: blink is 1 Hz, fast blink 4 Hz. Both start "on" so a change is visible at once.
LIGHT_HALF_PERIOD_MS = (0, 0, 500, 125)

COLOURS = ("red", "amber", "green")

BUZZER_OFF = 0
BUZZER_OK = 1
BUZZER_WRONG_ITEM = 2
BUZZER_OVER_QUANTITY = 3
BUZZER_BLOCKED = 4
BUZZER_NEEDS_SUPERVISOR = 5
BUZZER_FAULT = 6
BUZZER_ERROR = 7
BUZZER_NAMES = ("off", "ok", "wrong_item", "over_quantity", "blocked", "needs_supervisor", "fault", "error")

# Each pattern: (tone frequency in Hz, steps of (on_ms, off_ms), repeats until cleared).
BUZZER_PATTERNS = (
    (0, (), False),
    (2700, ((80, 0),), False),
    (2700, ((80, 80), (80, 80), (80, 0)), False),
    (2000, ((400, 200), (400, 0)), False),
    (3000, ((400, 100),), True),
    (2300, ((200, 1800),), True),
    (1500, ((600, 150), (150, 3100)), True),
    (1000, ((700, 0),), False),
)

# What a device shows when it has no host: amber blinking, buzzer silent (PROTOCOL.md explains the choice).
SAFE_LIGHT = (LIGHT_OFF, LIGHT_BLINK, LIGHT_OFF)
SAFE_BUZZER = BUZZER_OFF


def lamp_on(pattern: int, elapsed_ms: int) -> bool:
    """Whether a lamp playing `pattern` is lit `elapsed_ms` after the pattern was set."""
    if pattern == LIGHT_STEADY:
        return True
    if pattern in (LIGHT_BLINK, LIGHT_FAST_BLINK):
        half = LIGHT_HALF_PERIOD_MS[pattern]
        return (elapsed_ms // half) % 2 == 0
    return False


def buzzer_cycle_ms(pattern: int) -> int:
    """Length of one pass through the pattern's steps."""
    total = 0
    for on_ms, off_ms in BUZZER_PATTERNS[pattern][1]:
        total += on_ms + off_ms
    return total


def buzzer_tone_hz(pattern: int, elapsed_ms: int) -> int:
    """The tone (Hz, 0 = silent) a buzzer playing `pattern` makes `elapsed_ms` after the pattern started."""
    freq, steps, repeat = BUZZER_PATTERNS[pattern]
    cycle = buzzer_cycle_ms(pattern)
    if cycle == 0 or elapsed_ms < 0:
        return 0
    if elapsed_ms >= cycle:
        if not repeat:
            return 0
        elapsed_ms %= cycle
    for on_ms, off_ms in steps:
        if elapsed_ms < on_ms:
            return freq
        elapsed_ms -= on_ms + off_ms
        if elapsed_ms < 0:
            return 0
    return 0


def buzzer_finished(pattern: int, elapsed_ms: int) -> bool:
    """True once a one-shot pattern has played to its end (never for repeating patterns or `off`)."""
    _freq, _steps, repeat = BUZZER_PATTERNS[pattern]
    cycle = buzzer_cycle_ms(pattern)
    return cycle > 0 and not repeat and elapsed_ms >= cycle
