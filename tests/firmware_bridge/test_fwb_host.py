"""`BenchController` against the in-process emulator (`sim://`), including its fault knobs."""

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from firmware_bridge.core import wire
from firmware_bridge.emulator import Emulator

# Imported from the modules, not the package root: the package's exports have their own test below.
from firmware_bridge.errors import PortUrlError
from firmware_bridge.events import (
    BenchEvent,
    ConnectionChanged,
    DeviceFault,
    PedalPressed,
    StableWeight,
    TareCompleted,
)
from firmware_bridge.frames import Capability
from firmware_bridge.host import BenchController, LinkTiming

FAST = LinkTiming(
    heartbeat_s=0.05,
    silence_s=0.4,
    watchdog_ms=300,
    hello_retry_s=0.1,
    hello_attempts=3,
    retransmit_s=0.05,
    max_attempts=20,
    reconnect_min_s=0.05,
    reconnect_max_s=0.2,
    tare_timeout_s=3.0,
)

T = TypeVar("T")


def run(test: Callable[[], Awaitable[T]]) -> T:
    async def guarded() -> T:
        async with asyncio.timeout(30):  # a hang fails the test instead of the whole run
            return await test()

    return asyncio.run(guarded())


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


def emulator_of(controller: BenchController) -> Emulator:
    assert controller.emulator is not None
    return controller.emulator


def test_connects_and_reports_the_device() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        events: list[BenchEvent] = []
        controller.on_event(events.append)
        assert not controller.connected
        await controller.start()
        assert await controller.wait_connected(5)
        assert controller.firmware_version == "1.0.0"
        assert controller.protocol_version == 1
        assert controller.capabilities == Capability.LIGHT | Capability.BUZZER | Capability.PEDAL | Capability.SCALE
        await controller.stop()
        assert not controller.connected
        assert events == [ConnectionChanged(True, "", "1.0.0"), ConnectionChanged(False, "stopped", "1.0.0")]

    run(scenario)


def test_light_and_buzzer_commands_reach_the_device() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        assert await controller.set_light("red", "fast_blink")
        assert emulator.light == {"red": "fast_blink", "amber": "off", "green": "off"}
        assert await controller.set_lamps(amber="blink", green="steady")
        assert emulator.light == {"red": "off", "amber": "blink", "green": "steady"}
        assert await controller.set_buzzer("ok")
        assert await controller.set_buzzer("ok")
        assert await controller.set_buzzer("wrong_item")
        assert emulator.buzzer_log == ["ok", "ok", "wrong_item"]
        await controller.stop()

    run(scenario)


def test_names_are_checked() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        with pytest.raises(ValueError, match="colour"):
            await controller.set_light("blue")
        with pytest.raises(ValueError, match="light pattern"):
            await controller.set_light("red", "strobe")
        with pytest.raises(ValueError, match="buzzer pattern"):
            await controller.set_buzzer("siren")
        with pytest.raises(ValueError, match="settle_ms"):
            await controller.configure_scale(5, 3)

    run(scenario)


def test_commands_while_disconnected_return_false_and_the_light_shows_once_connected() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        assert not await controller.set_light("green")
        assert not await controller.tare()
        await controller.start()
        await controller.wait_connected(5)
        await until(lambda: emulator_of(controller).light["green"] == "steady")
        await controller.stop()

    run(scenario)


def test_pedal_weight_tare_and_fault_events() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://?noise_g=1&seed=4", timing=FAST, scale_settle_ms=300)
        events: list[BenchEvent] = []
        controller.on_event(events.append)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        emulator.press_pedal()
        await until(lambda: PedalPressed in {type(e) for e in events})
        emulator.set_load_g(742)
        # +/-1 g of noise: the settled mean may round either way.
        await until(lambda: abs((controller.latest_stable_weight_g or 0) - 742) <= 1)
        assert await controller.tare()
        await until(lambda: controller.latest_stable_weight_g in (-1, 0, 1))
        emulator.scale_dead = True
        await until(lambda: DeviceFault("scale_timeout", True) in events)
        emulator.scale_dead = False
        await until(lambda: DeviceFault("scale_timeout", False) in events)
        await controller.stop()
        kinds = [type(e) for e in events]
        assert kinds.count(PedalPressed) == 1
        assert StableWeight in kinds
        assert TareCompleted(True) in events

    run(scenario)


def test_a_lossy_line_still_delivers_every_command_and_event_once() -> None:
    # Generous silence and retry limits: the line loses a quarter of its frames, but the session must hold.
    timing = dataclasses.replace(FAST, silence_s=1.5, max_attempts=40)

    async def scenario() -> None:
        controller = BenchController("sim://?drop=0.15&corrupt=0.1&delay_ms=3&seed=11", timing=timing)
        events: list[BenchEvent] = []
        controller.on_event(events.append)
        await controller.start()
        await controller.wait_connected(10)
        emulator = emulator_of(controller)
        patterns = ["ok", "wrong_item", "over_quantity", "error", "ok", "ok"]
        for pattern in patterns:
            assert await controller.set_buzzer(pattern)
        for _ in range(5):
            emulator.press_pedal()
        await until(lambda: sum(isinstance(e, PedalPressed) for e in events) == 5, 15)
        await asyncio.sleep(0.3)  # time for any stray retransmission to arrive (and be suppressed)
        stats = emulator.stats()
        await controller.stop()
        assert stats["dropped_from_host"] + stats["corrupted_from_host"] > 0  # the knobs really bit
        assert stats["dropped_to_host"] + stats["corrupted_to_host"] > 0
        assert emulator.buzzer_log == patterns  # every request played exactly once
        assert [e.press_no for e in events if isinstance(e, PedalPressed)] == [1, 2, 3, 4, 5]
        assert [e.connected for e in events if isinstance(e, ConnectionChanged)] == [True, False]

    run(scenario)


def test_a_reboot_mid_stream_reconnects_and_restores_light_and_alarm() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://?reboot_after=25", timing=FAST)
        changes: list[bool] = []
        controller.on_event(lambda e: changes.append(e.connected) if isinstance(e, ConnectionChanged) else None)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        assert await controller.set_light("red", "blink")
        assert await controller.set_buzzer("blocked")
        await until(lambda: emulator.reboots == 1)
        await until(lambda: changes[-2:] == [False, True])
        await until(lambda: emulator.light["red"] == "blink" and emulator.buzzer == "blocked")
        await controller.stop()

    run(scenario)


def test_one_shot_sounds_are_not_replayed_after_a_reconnect() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        assert await controller.set_buzzer("wrong_item")
        emulator.reboot()
        await until(lambda: controller.connected and emulator.in_session)
        await until(lambda: emulator.light == {"red": "off", "amber": "off", "green": "off"})
        await controller.stop()
        assert emulator.buzzer_log == ["wrong_item"]

    run(scenario)


def test_unplug_and_replug() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        assert await controller.set_light("green")
        emulator.unplug()
        await until(lambda: not controller.connected)
        assert controller.latest_stable_weight_g is None
        assert not await controller.set_light("amber")  # remembered, shown after the replug
        await asyncio.sleep(0.3)  # a few failed reopen attempts with backoff
        assert controller.last_error is not None
        assert "unplugged" in controller.last_error
        emulator.replug()
        assert await controller.wait_connected(5)
        await until(lambda: emulator.light == {"red": "off", "amber": "steady", "green": "off"})
        await controller.stop()

    run(scenario)


def test_the_device_goes_safe_after_the_host_stops() -> None:
    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        await controller.start()
        await controller.wait_connected(5)
        emulator = emulator_of(controller)
        assert await controller.set_light("green")
        await controller.stop()
        await asyncio.sleep(FAST.watchdog_ms / 1000 + 0.1)
        emulator.tick()
        assert not emulator.in_session
        assert emulator.light == {"red": "off", "amber": "blink", "green": "off"}
        assert emulator.buzzer == "off"

    run(scenario)


def test_a_failing_listener_is_logged_and_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[BenchEvent]:
        controller = BenchController("sim://", timing=FAST)
        seen: list[BenchEvent] = []

        def broken(event: BenchEvent) -> None:
            raise RuntimeError("listener bug")

        controller.on_event(broken)
        unsubscribe = controller.on_event(seen.append)
        await controller.start()
        await controller.wait_connected(5)
        unsubscribe()
        emulator_of(controller).press_pedal()
        await asyncio.sleep(0.3)
        await controller.stop()
        return seen

    seen = run(scenario)
    assert seen == [ConnectionChanged(True, "", "1.0.0")]
    assert "event listener failed" in caplog.text


def test_raw_traffic_goes_to_the_wire_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="firmware_bridge.wire")

    async def scenario() -> None:
        controller = BenchController("sim://", timing=FAST)
        await controller.start()
        await controller.wait_connected(5)
        await controller.stop()

    run(scenario)
    wire_lines = [r.getMessage() for r in caplog.records if r.name == "firmware_bridge.wire"]
    first_tx = next(line for line in wire_lines if " tx " in line)
    data = bytes.fromhex(first_tx.split(" tx ", 1)[1])
    assert data[0] == 0  # the leading delimiter, then HELLO
    assert [f.ftype for f in wire.FrameDecoder().feed(data)] == [wire.HELLO]
    assert any(" rx " in line for line in wire_lines)


def test_a_missing_port_is_retried_without_crashing(caplog: pytest.LogCaptureFixture, tmp_path: object) -> None:
    async def scenario() -> BenchController:
        controller = BenchController(f"{tmp_path}/no-such-tty", timing=FAST)
        await controller.start()
        await asyncio.sleep(0.4)
        assert not controller.connected
        await controller.stop()
        return controller

    controller = run(scenario)
    assert controller.last_error is not None
    assert "cannot open" in controller.last_error
    assert sum("retrying with backoff" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    "url", ["", "sim://?bogus=1", "sim://?drop=2", "sim://?delay_ms=x", "sim://host/path", "rfc2217://host:1"]
)
def test_bad_port_urls_are_refused(url: str) -> None:
    with pytest.raises(PortUrlError):
        BenchController(url)


def test_sim_knobs_are_parsed() -> None:
    controller = BenchController("sim://?drop=0.1&corrupt=0.05&delay_ms=20&reboot_after=50&drift_g=3&noise_g=2")
    knobs = emulator_of(controller).knobs
    assert (knobs.drop, knobs.corrupt, knobs.delay_ms, knobs.reboot_after, knobs.drift_g, knobs.noise_g) == (
        0.1,
        0.05,
        20,
        50,
        3.0,
        2.0,
    )


def test_the_package_exports_the_public_api() -> None:
    # Fails with a stale editable install made before firmware_bridge/__init__.py existed: reinstall then.
    import firmware_bridge  # noqa: PLC0415
    from firmware_bridge import host  # noqa: PLC0415

    assert firmware_bridge.BenchController is host.BenchController
    assert firmware_bridge.BUZZER_PATTERNS == (
        "off",
        "ok",
        "wrong_item",
        "over_quantity",
        "blocked",
        "needs_supervisor",
        "fault",
        "error",
    )
    assert firmware_bridge.LIGHT_PATTERNS == ("off", "steady", "blink", "fast_blink")
    assert firmware_bridge.COLOURS == ("red", "amber", "green")
