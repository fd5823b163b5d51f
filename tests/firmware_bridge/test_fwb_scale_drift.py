"""The emulator's `drift_g` knob in action: the load cell creeps, and the scale's settle logic copes as designed.

PROTOCOL.md §9: slow drift (well inside the band over one settle window) still settles, and a WEIGHT event is sent
only once the settled value has moved more than `band_g` from the last one reported, so a box left on a drifting
scale gives a few events that follow the drift, not one per reading. A drift too fast to settle gives no weight at
all rather than a wrong one.
"""

import itertools
import random

from fwb_harness import DeviceDriver, EmulatorDevice

from firmware_bridge import frames
from firmware_bridge.emulator import Emulator, FaultKnobs, SimBoard

BAND_G = 3  # the device default, PROTOCOL.md §11
LOAD_G = 1000


def _drifting(drift_g_per_min: float) -> DeviceDriver:
    device = EmulatorDevice()
    device.emulator = Emulator(FaultKnobs(drift_g=drift_g_per_min, seed=7), clock_ms=lambda: device.now_ms)
    return DeviceDriver(device)


def _weights(drv: DeviceDriver) -> list[tuple[int, int]]:
    return [(item.at_ms, item.message.weight_g) for item in drv.received if isinstance(item.message, frames.Weight)]


def test_the_scale_reading_drifts_by_the_configured_grams_per_minute() -> None:
    now_ms = [0]
    board = SimBoard(lambda: now_ms[0], FaultKnobs(drift_g=30.0), random.Random(7))
    board.load_g = LOAD_G
    first = board.read_scale()
    now_ms[0] = 60_000
    later = board.read_scale()
    assert first is not None
    assert later is not None
    assert first / board.counts_per_g == LOAD_G
    assert later / board.counts_per_g == LOAD_G + 30.0


def test_slow_drift_settles_and_is_reported_in_steps_just_over_the_band() -> None:
    drv = _drifting(60.0)  # 1 g/s: 0.6 g over a 600 ms settle window, well inside the 3 g band
    drv.handshake()
    drv.device.set_load_g(LOAD_G)
    drv.advance(20_000, heartbeat_every_ms=100)
    weights = [w for _at, w in _weights(drv)]
    assert weights, "a slowly drifting scale must still settle"
    assert abs(weights[0] - LOAD_G) <= 2  # the first settle, about a second in, is the box's weight
    steps = [b - a for a, b in itertools.pairwise(weights)]
    assert steps
    assert all(BAND_G < step <= BAND_G + 2 for step in steps), steps  # follows the drift, no chatter
    assert 3 <= len(weights) <= 6  # ~20 g of drift in steps of ~4 g, not one event per 100 ms reading
    true_now = LOAD_G + drv.now_ms / 1000  # 1 g per second since the board was created at t = 0
    assert true_now - weights[-1] <= BAND_G + 2  # the last report is never far behind the scale


def test_without_drift_a_box_left_on_the_scale_gives_one_weight() -> None:
    drv = _drifting(0.0)
    drv.handshake()
    drv.device.set_load_g(LOAD_G)
    drv.advance(20_000, heartbeat_every_ms=100)
    assert [w for _at, w in _weights(drv)] == [LOAD_G]


def test_drift_too_fast_to_settle_gives_no_weight_rather_than_a_wrong_one() -> None:
    drv = _drifting(1200.0)  # 20 g/s: 12 g over one settle window, four times the band
    drv.handshake()
    drv.device.set_load_g(LOAD_G)
    drv.advance(5_000, heartbeat_every_ms=100)
    assert _weights(drv) == []
