"""Contract tests of the device side, run against both implementations: the emulator and the reference firmware
(on a fake `machine`). Both must behave identically on the wire and at the outputs."""

import pytest
from fwb_harness import DEVICE_KINDS, DeviceDriver, toggles

from firmware_bridge import frames
from firmware_bridge.core import wire
from firmware_bridge.frames import BuzzerPattern, LightPattern

OFF, STEADY, BLINK, FAST = LightPattern.OFF, LightPattern.STEADY, LightPattern.BLINK, LightPattern.FAST_BLINK
RED, AMBER, GREEN = 0, 1, 2


@pytest.fixture(params=sorted(DEVICE_KINDS))
def dev(request: pytest.FixtureRequest) -> DeviceDriver:
    return DeviceDriver(DEVICE_KINDS[request.param]())


def acks(drv: DeviceDriver) -> list[int]:
    return [item.frame.ack for item in drv.messages(frames.Ack)]


def test_boot_announces_reset_and_blinks_amber(dev: DeviceDriver) -> None:
    dev.advance(1200)
    resets = [item.message for item in dev.messages(frames.Reset)]
    assert resets == [frames.Reset(frames.ResetReason.REBOOTED)]
    assert not any(dev.lamp_levels(RED))
    assert not any(dev.lamp_levels(GREEN))
    assert toggles(dev.lamp_levels(AMBER)) == 2  # 1 Hz: on until 500, off until 1000, on again
    assert dev.beeps() == []


def test_hello_ack_reports_versions_capabilities_and_clamped_watchdog(dev: DeviceDriver) -> None:
    ack = dev.handshake(nonce=0xBEEF, watchdog_ms=20)
    assert ack.nonce == 0xBEEF
    assert ack.protocol_version == wire.PROTOCOL_VERSION
    assert ack.firmware_version == "1.0.0"
    assert ack.capabilities == frames.Capability(wire.CAP_ALL)
    assert ack.watchdog_ms == wire.WATCHDOG_MIN_MS
    assert ack.reset_cause == frames.ResetCause.POWER_ON


def test_frames_outside_a_session_are_refused_and_not_applied(dev: DeviceDriver) -> None:
    dev.advance(10)
    dev.clear()
    dev.send(frames.SetLight(OFF, OFF, STEADY), seq=1)
    dev.advance(600)
    assert [item.message for item in dev.messages(frames.Reset)] == [frames.Reset(frames.ResetReason.REBOOTED)]
    assert acks(dev) == []
    assert not any(dev.lamp_levels(GREEN))


def test_set_light_is_acked_and_each_lamp_plays_its_pattern(dev: DeviceDriver) -> None:
    dev.handshake()
    seq = dev.send_command(frames.SetLight(FAST, OFF, STEADY))
    dev.clear()
    dev.advance(1000, heartbeat_every_ms=200)
    assert seq in acks(dev)
    assert all(dev.lamp_levels(GREEN))
    assert not any(dev.lamp_levels(AMBER))
    assert 7 <= toggles(dev.lamp_levels(RED)) <= 8  # 4 Hz: a change every 125 ms


def test_a_retransmitted_set_light_is_acked_again_but_does_not_restart_the_blink(dev: DeviceDriver) -> None:
    dev.handshake()
    command = frames.SetLight(OFF, OFF, BLINK)
    dev.send(command, seq=1)
    start = dev.now_ms
    dev.advance(300, heartbeat_every_ms=100)
    dev.send(command, seq=1)  # the same frame again, as after a lost ack
    dev.advance(300, heartbeat_every_ms=100)
    assert acks(dev).count(1) >= 2
    # Blink phase runs from the first apply: lit for 500 ms, then dark. A restart at 300 ms would still be lit.
    assert [s.lamps[GREEN] for s in dev.samples if s.at_ms == start + 550] == [False]


@pytest.mark.parametrize(
    ("pattern", "expected_ms"),
    [
        (BuzzerPattern.OK, [80]),
        (BuzzerPattern.WRONG_ITEM, [80, 80, 80]),
        (BuzzerPattern.OVER_QUANTITY, [400, 400]),
        (BuzzerPattern.ERROR, [700]),
    ],
)
def test_one_shot_buzzer_patterns(dev: DeviceDriver, pattern: BuzzerPattern, expected_ms: list[int]) -> None:
    dev.handshake()
    dev.send_command(frames.SetBuzzer(pattern, 1))
    dev.advance(2500, heartbeat_every_ms=200)
    durations = [duration for _start, duration in dev.beeps()]
    assert len(durations) == len(expected_ms)
    for got, want in zip(durations, expected_ms, strict=True):
        assert want - 5 <= got <= want + 5


def test_a_buzzer_command_sounds_once_per_play_id(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.send(frames.SetBuzzer(BuzzerPattern.OK, 9), seq=1)
    dev.advance(300, heartbeat_every_ms=100)
    dev.send(frames.SetBuzzer(BuzzerPattern.OK, 9), seq=1)  # retransmission: duplicate seq
    dev.advance(300, heartbeat_every_ms=100)
    dev.send(frames.SetBuzzer(BuzzerPattern.OK, 9), seq=2)  # same state resent in a new frame
    dev.advance(300, heartbeat_every_ms=100)
    assert len(dev.beeps()) == 1
    dev.send(frames.SetBuzzer(BuzzerPattern.OK, 10), seq=3)  # a new request: beeps again
    dev.advance(300, heartbeat_every_ms=100)
    assert len(dev.beeps()) == 2
    assert set(acks(dev)) >= {1, 2, 3}


def test_continuous_alarm_sounds_until_cleared(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.send_command(frames.SetBuzzer(BuzzerPattern.BLOCKED, 1))
    dev.advance(4000, heartbeat_every_ms=300)
    assert len(dev.beeps()) >= 7
    assert dev.samples[-1].at_ms - dev.beeps()[-1][0] < 600  # still going at the end
    dev.send_command(frames.SetBuzzer(BuzzerPattern.OFF, 2))
    mark = dev.now_ms + 10
    dev.advance(2000, heartbeat_every_ms=300)
    assert dev.beeps(since_ms=mark) == []


def test_needs_supervisor_repeats_slowly(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.send_command(frames.SetBuzzer(BuzzerPattern.NEEDS_SUPERVISOR, 1))
    dev.advance(6300, heartbeat_every_ms=300)
    beeps = dev.beeps()
    assert len(beeps) == 4  # at 0, 2, 4 and 6 s
    assert all(195 <= duration <= 205 for _start, duration in beeps)


def test_watchdog_expiry_puts_outputs_in_the_safe_state(dev: DeviceDriver) -> None:
    dev.handshake(watchdog_ms=300)
    dev.send_command(frames.SetLight(OFF, OFF, STEADY))
    dev.send_command(frames.SetBuzzer(BuzzerPattern.BLOCKED, 1))
    dev.advance(200)
    assert dev.samples[-1].lamps == (False, False, True)
    assert dev.beeps()
    dev.clear()
    dev.advance(1300)  # the host has gone quiet
    late = [s for s in dev.samples if s.at_ms >= dev.now_ms - 1000]
    assert not any(s.lamps[RED] or s.lamps[GREEN] for s in late)
    assert toggles([s.lamps[AMBER] for s in late]) >= 1
    assert all(s.tone_hz == 0 for s in late)
    dev.clear()
    dev.send(frames.Heartbeat(), ack=0)
    dev.send(frames.SetLight(OFF, OFF, STEADY), seq=3)  # a stale retransmission must not light green again
    dev.advance(200)
    assert [item.message for item in dev.messages(frames.Reset)] == [frames.Reset(frames.ResetReason.WATCHDOG)] * 2
    assert not any(dev.lamp_levels(GREEN))


def test_heartbeats_keep_the_session_and_get_status(dev: DeviceDriver) -> None:
    dev.handshake(watchdog_ms=300)
    dev.send_command(frames.SetLight(OFF, OFF, STEADY))
    dev.advance(3000, heartbeat_every_ms=100)
    assert all(dev.lamp_levels(GREEN, since_ms=dev.now_ms - 2500))
    statuses = [item.message for item in dev.messages(frames.Status)]
    assert len(statuses) >= 25
    assert isinstance(statuses[-1], frames.Status)
    assert statuses[-1].flags & wire.STATUS_SCALE_OK


def test_pedal_press_is_one_event_retransmitted_until_acked(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.device.press_pedal()
    dev.advance(800, heartbeat_every_ms=100, ack=0)  # the host does not ack the event
    pedals = dev.messages(frames.Pedal)
    assert len(pedals) >= 2
    assert {(item.frame.seq, item.message) for item in pedals} == {(1, pedals[0].message)}
    assert isinstance(pedals[0].message, frames.Pedal)
    assert pedals[0].message.press_no == 1
    dev.clear()
    dev.advance(800, heartbeat_every_ms=100, ack=1)
    count_after_ack = len(dev.messages(frames.Pedal))
    dev.advance(1000, heartbeat_every_ms=100, ack=1)
    assert len(dev.messages(frames.Pedal)) == count_after_ack <= 1


def test_two_presses_are_two_events_in_order(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.device.press_pedal()
    dev.device.press_pedal()
    dev.advance(1000, heartbeat_every_ms=50)
    presses = [item.message.press_no for item in dev.messages(frames.Pedal) if isinstance(item.message, frames.Pedal)]
    assert presses == [1, 2]


def test_stable_weight_is_reported_once_after_settling(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.advance(1000, heartbeat_every_ms=100)
    dev.clear()
    dev.device.set_load_g(1250)
    dev.advance(3000, heartbeat_every_ms=100)
    weights = list(dev.messages(frames.Weight))
    assert [item.message.weight_g for item in weights if isinstance(item.message, frames.Weight)] == [1250]
    assert weights[0].at_ms - (dev.now_ms - 3000) >= 600  # not before the settle window
    dev.device.set_load_g(1800)
    dev.advance(2000, heartbeat_every_ms=100)
    got = [item.message.weight_g for item in dev.messages(frames.Weight) if isinstance(item.message, frames.Weight)]
    assert got == [1250, 1800]


def test_tare_zeroes_the_scale(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.device.set_load_g(300)
    dev.advance(1500, heartbeat_every_ms=100)
    dev.send_command(frames.Tare(5), ack=dev.last_event_seq())
    dev.advance(1500, heartbeat_every_ms=100)
    dev.device.set_load_g(800)
    dev.advance(1500, heartbeat_every_ms=100)
    events = [item.message for item in dev.received if isinstance(item.message, frames.Weight | frames.TareDone)]
    deduped = [m for i, m in enumerate(events) if i == 0 or m != events[i - 1]]
    assert [type(m).__name__ for m in deduped] == ["Weight", "TareDone", "Weight", "Weight"]
    assert deduped[1] == frames.TareDone(5, True)
    assert [m.weight_g for m in deduped if isinstance(m, frames.Weight)] == [300, 0, 500]


def test_scale_timeout_fault_is_raised_and_cleared(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.advance(300, heartbeat_every_ms=100)
    dev.device.set_scale_dead(True)
    dev.advance(1500, heartbeat_every_ms=100)
    dev.device.set_scale_dead(False)
    dev.advance(500, heartbeat_every_ms=100)
    faults = []
    for item in dev.messages(frames.Fault):
        if item.message not in faults:
            faults.append(item.message)
    assert faults == [
        frames.Fault(frames.FaultCode.SCALE_TIMEOUT, True),
        frames.Fault(frames.FaultCode.SCALE_TIMEOUT, False),
    ]


def test_an_active_fault_is_announced_again_to_a_new_session(dev: DeviceDriver) -> None:
    dev.handshake(nonce=1)
    dev.device.set_scale_dead(True)
    dev.advance(1500, heartbeat_every_ms=100)
    dev.clear()
    dev.handshake(nonce=2)
    dev.advance(100, heartbeat_every_ms=50)
    assert frames.Fault(frames.FaultCode.SCALE_TIMEOUT, True) in [item.message for item in dev.messages(frames.Fault)]


def test_a_corrupted_frame_is_ignored(dev: DeviceDriver) -> None:
    dev.handshake()
    data = bytearray(frames.encode(frames.SetLight(STEADY, OFF, OFF), seq=1))
    data[5] ^= 0x10
    dev.send_bytes(bytes(data))
    dev.advance(300, heartbeat_every_ms=100)
    assert 1 not in acks(dev)
    assert not any(dev.lamp_levels(RED))
    statuses = [item.message for item in dev.messages(frames.Status) if isinstance(item.message, frames.Status)]
    assert statuses[-1].rx_errors >= 1


def test_garbage_then_a_valid_frame_resynchronises(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.clear()
    dev.send_bytes(bytes(range(1, 200)) + b"\x00")  # an oversize run of junk, then a delimiter
    dev.send_bytes(b"\x07\x01\x02\x03\x00")  # a short bad frame
    dev.send(frames.SetLight(STEADY, OFF, OFF), seq=1)
    dev.advance(100, heartbeat_every_ms=50)
    assert 1 in acks(dev)
    assert all(dev.lamp_levels(RED))


def test_a_repeated_hello_keeps_the_session_and_a_new_nonce_starts_a_new_one(dev: DeviceDriver) -> None:
    dev.handshake(nonce=0x0101)
    dev.send_command(frames.SetLight(OFF, OFF, STEADY))
    dev.advance(50)
    dev.handshake(nonce=0x0101)  # a retried HELLO
    dev.send(frames.SetLight(STEADY, OFF, OFF), seq=2)
    dev.advance(50)
    assert 2 in acks(dev)
    assert dev.samples[-1].lamps == (True, False, False)
    dev.handshake(nonce=0x0202)  # a new session: numbering starts at 1 again
    dev.clear()
    dev.send(frames.SetLight(OFF, STEADY, OFF), seq=1)
    dev.advance(50)
    assert acks(dev) == [1]
    assert dev.samples[-1].lamps == (False, True, False)


def test_a_hello_of_another_version_is_answered_without_opening_a_session(dev: DeviceDriver) -> None:
    dev.advance(10)
    dev.clear()
    dev.send_bytes(frames.encode(frames.Hello(7, 2000), version=2))
    dev.send(frames.SetLight(STEADY, OFF, OFF), seq=1)
    dev.advance(50)
    assert [type(item.message).__name__ for item in dev.received] == ["HelloAck", "Reset"]


def test_unknown_and_invalid_commands_are_acked_but_not_applied(dev: DeviceDriver) -> None:
    dev.handshake()
    dev.send_command(frames.SetLight(OFF, OFF, STEADY))
    dev.send_bytes(wire.encode_frame(0x7E, 2, 0, b"\x01\x02"))  # a type from some future host
    dev.send_bytes(wire.encode_frame(wire.SET_LIGHT, 3, 0, b"\x01\x09\x01"))  # pattern id 9 does not exist
    dev.send_bytes(wire.encode_frame(wire.SET_BUZZER, 4, 0, b"\x01"))  # too short
    dev.advance(200, heartbeat_every_ms=50)
    assert max(acks(dev)) == 4
    assert dev.samples[-1].lamps == (False, False, True)
    assert dev.beeps() == []


def test_events_from_before_a_session_are_discarded(dev: DeviceDriver) -> None:
    dev.device.press_pedal()
    dev.device.set_load_g(500)
    dev.advance(1500)
    dev.handshake()
    dev.advance(1000, heartbeat_every_ms=100)
    assert dev.messages(frames.Pedal) == []
    # The weight is state, not an event: what is on the scale now is reported to the new session.
    weights = [item.message for item in dev.messages(frames.Weight) if isinstance(item.message, frames.Weight)]
    assert [w.weight_g for w in weights[:1]] == [500]
