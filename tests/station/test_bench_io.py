"""The bench I/O controller wired into a real station (simulated controller): light and buzzer per outcome,
the pedal completes an order, the scale feeds the `packed` guard, an unplugged controller is an alert."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchkit import ADMIN, FOOD, HUB, order_doc

from drivers.scanners import SimScanner
from firmware_bridge import DeviceFault
from firmware_bridge.core import patterns
from station.adapters.bench_io import FEEDBACK_OUTPUT
from station.alerts.monitor import active_alerts
from station.app import Station
from station.config import load_settings
from station.orders.intake import cancel_order, intake_order
from station.orders.model import Feedback, Role, Status
from station.orders.operators import add_operator

DOC = order_doc(
    order_id="SO20260205-7001",
    weight_g=1000,
    weight_tolerance_g=50,
    lines=[{"line_no": 1, "sku": "FOOD", "name": "猫粮", "barcodes": [FOOD], "qty": 2}],
)


def test_every_feedback_looks_and_sounds_different() -> None:
    assert {Feedback.ATTENTION, Feedback.DEVICE_FAULT} <= FEEDBACK_OUTPUT.keys()
    shown = {(o.red, o.amber, o.green, o.buzzer) for o in FEEDBACK_OUTPUT.values()}
    assert len(shown) == len(FEEDBACK_OUTPUT)


def test_a_device_fault_has_a_light_and_a_sound_of_its_own() -> None:
    fault = FEEDBACK_OUTPUT[Feedback.DEVICE_FAULT]
    assert fault.buzzer == "fault"  # the protocol's dedicated pattern (PROTOCOL.md §10)
    others = [o for f, o in FEEDBACK_OUTPUT.items() if f is not Feedback.DEVICE_FAULT]
    assert all(o.buzzer != "fault" for o in others)
    light = (fault.red, fault.amber, fault.green)
    assert light != tuple(patterns.LIGHT_NAMES[p] for p in patterns.SAFE_LIGHT)  # not the controller's safe state
    assert all(light != (o.red, o.amber, o.green) for o in others)  # nor any other feedback's light


async def _eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def _run(tmp_path: Path, body: Callable[[Station], Awaitable[None]]) -> None:
    settings = load_settings(
        None,
        environ={
            "STATION_DATA": str(tmp_path),
            "STATION_DEVICES__SCANNERS": "[]",
            "STATION_DEVICES__SCALE": "controller",
            "STATION_WORKFLOW__BOUNCE_WINDOW_MS": "0",
        },
    )
    station = Station.build(settings)
    add_operator(station.store, "OP-001", "李四", Role.PACKER, ADMIN)
    assert intake_order(station.store, DOC, HUB).ok

    async def main() -> None:
        await station.start()
        try:
            assert station.bench_io is not None
            assert await station.bench_io.controller.wait_connected(10)
            await body(station)
        finally:
            await station.stop()

    asyncio.run(main())


async def _scan(station: Station, code: str) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(station.writer, station.workflow.handle_scan, "B01", code, "s1", None)


def test_light_buzzer_pedal_and_scale(tmp_path: Path) -> None:
    async def body(station: Station) -> None:
        assert station.bench_io is not None
        emulator = station.bench_io.controller.emulator
        assert emulator is not None
        assert (await _scan(station, "OP-001")).accepted
        assert (await _scan(station, DOC["order_id"])).accepted
        await _eventually(lambda: emulator.light["green"] == "steady")
        wrong = await _scan(station, "6920000000005")
        assert wrong.reason == "wrong_item"
        await _eventually(lambda: emulator.light == {"red": "blink", "amber": "off", "green": "off"})
        assert (await _scan(station, "CMD:QTY:2")).accepted
        last = await _scan(station, FOOD)
        assert last.detail["awaiting"] == "weight_missing"  # nothing on the scale yet
        emulator.set_load_g(1400)  # 400 g too heavy: something extra in the box?
        await _eventually(
            lambda: station.bench_io is not None and station.bench_io.controller.latest_stable_weight_g == 1400
        )
        emulator.press_pedal()  # the pedal means COMPLETE
        await _eventually(
            lambda: _status(station) is not Status.PACKING or _refused(station, "weight_out_of_tolerance")
        )
        assert _status(station) is Status.PACKING
        emulator.set_load_g(1020)
        await _eventually(
            lambda: station.bench_io is not None and station.bench_io.controller.latest_stable_weight_g == 1020
        )
        emulator.press_pedal()
        await _eventually(lambda: _status(station) is Status.PACKED)
        with station.store.reading() as repo:
            order = repo.order(DOC["order_id"])
        assert order is not None
        assert order.measured_weight_g == 1020

    _run(tmp_path, body)


def test_unplugged_controller_raises_and_clears_an_alert(tmp_path: Path) -> None:
    async def body(station: Station) -> None:
        assert station.bench_io is not None
        controller = station.bench_io.controller
        assert controller.emulator is not None
        controller.emulator.unplug()
        await _eventually(lambda: ("device_down", "controller") in _alerts(station), timeout_s=20)
        controller.emulator.replug()
        await _eventually(lambda: ("device_down", "controller") not in _alerts(station), timeout_s=20)

    _run(tmp_path, body)


def test_the_fault_light_returns_after_a_good_scan_while_a_device_is_down(tmp_path: Path) -> None:
    fault = {"red": "off", "amber": "fast_blink", "green": "off"}
    green = {"red": "off", "amber": "off", "green": "steady"}
    wrong = {"red": "blink", "amber": "off", "green": "off"}

    async def body(station: Station) -> None:
        assert station.bench_io is not None
        station.bench_io.restore_fault_after_s = 0.3
        emulator = station.bench_io.controller.emulator
        assert emulator is not None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(station.writer, station.alerts.device_state, "printer", False, "paper out")
        await _eventually(lambda: emulator.light == fault)
        sounds = len(emulator.buzzer_log)
        assert (await _scan(station, "OP-001")).accepted
        await _eventually(lambda: emulator.light == green)
        await _eventually(lambda: emulator.light == fault)  # the printer is still down
        await asyncio.sleep(0.2)
        assert emulator.buzzer_log[sounds:] == ["ok"]  # the light came back without sounding the fault again
        assert (await _scan(station, DOC["order_id"])).accepted
        assert (await _scan(station, "6920000000005")).reason == "wrong_item"
        await _eventually(lambda: emulator.light == wrong)
        await asyncio.sleep(0.6)
        assert emulator.light == wrong  # a refusal keeps its pattern until the next scan
        await loop.run_in_executor(station.writer, station.alerts.device_state, "printer", True, "")
        assert (await _scan(station, FOOD)).accepted
        await _eventually(lambda: emulator.light == green)
        await asyncio.sleep(0.6)
        assert emulator.light == green  # every device is up: green stays

    _run(tmp_path, body)


def test_an_event_overflow_is_recorded_but_does_not_stand(tmp_path: Path) -> None:
    """The controller reports a full event backlog once and never clears it: a notice, not a device down."""

    async def body(station: Station) -> None:
        assert station.bench_io is not None
        station.bench_io.controller._emit(DeviceFault("event_overflow", True))
        subject = "controller:event_overflow"

        def recorded() -> list[str]:
            return [
                e["type"]
                for e in station.store.events_from(1)
                if e["type"].startswith("alert.") and e["data"].get("subject") == subject
            ]

        await _eventually(lambda: recorded() == ["alert.raised", "alert.cleared"])
        assert ("device_down", subject) not in _alerts(station)
        station.bench_io.controller._emit(DeviceFault("scale_timeout", True))  # a state fault stands until cleared
        await _eventually(lambda: ("device_down", "controller:scale_timeout") in _alerts(station))

    _run(tmp_path, body)


def _alerts(station: Station) -> set[tuple[str, str]]:
    return {(a["alert"], a["subject"]) for a in active_alerts(station.store)}


def _status(station: Station) -> Status:
    with station.store.reading() as repo:
        order = repo.order(DOC["order_id"])
    assert order is not None
    return order.status


def _refused(station: Station, reason: str) -> bool:
    return any(
        e["type"] == "scan.rejected" and e["data"].get("reason") == reason
        for e in station.store.events_for_order(DOC["order_id"])
    )


def test_sim_scanner_drives_the_bench_and_the_light_follows_each_scan(tmp_path: Path) -> None:
    """End to end: sim scanner → workflow → commit → light and buzzer on the emulated controller."""
    settings = load_settings(
        None,
        environ={
            "STATION_DATA": str(tmp_path),
            "STATION_DEVICES__SCANNERS": '["sim://bench"]',
            "STATION_WORKFLOW__BOUNCE_WINDOW_MS": "0",  # the script scans the same bag back to back
        },
    )
    station = Station.build(settings)
    add_operator(station.store, "OP-001", "李四", Role.PACKER, ADMIN)
    assert intake_order(station.store, DOC, HUB).ok
    steps = [
        (b"OP-001", {"red": "off", "amber": "off", "green": "steady"}, "ok"),
        (DOC["order_id"].encode(), {"red": "off", "amber": "off", "green": "steady"}, "ok"),
        (b"6920000000005", {"red": "blink", "amber": "off", "green": "off"}, "wrong_item"),
        (FOOD.encode(), {"red": "off", "amber": "off", "green": "steady"}, "ok"),
        (b"FOOD\x1a2KG", {"red": "off", "amber": "steady", "green": "off"}, "error"),  # an unknown key from evdev
        (b"CMD:QTY:2", {"red": "off", "amber": "off", "green": "steady"}, "ok"),
        (FOOD.encode(), {"red": "blink", "amber": "blink", "green": "off"}, "over_quantity"),  # 1 + 2 > 2 ordered
        (FOOD.encode(), {"red": "off", "amber": "off", "green": "steady"}, "ok"),  # the last bag: packed
        (DOC["order_id"].encode(), {"red": "fast_blink", "amber": "off", "green": "off"}, "blocked"),
    ]

    async def main() -> None:
        await station.start()
        try:
            assert station.bench_io is not None
            controller = station.bench_io.controller
            emulator = controller.emulator
            assert emulator is not None
            assert await controller.wait_connected(10)
            scanner = next(s for s in station.scanners if isinstance(s, SimScanner))
            heard: list[str] = []  # what the buzzer should have played so far, each sound once
            for n, (code, light, buzzer) in enumerate(steps):
                if n == len(steps) - 1:
                    await asyncio.get_running_loop().run_in_executor(station.writer, _cancel, station, DOC["order_id"])
                    heard.append("blocked")  # the cancellation is pushed to the bench at once, before any scan
                    await _eventually(lambda: len(emulator.buzzer_log) >= len(heard))
                    assert emulator.buzzer_log == heard, f"cancelled: buzzer log {emulator.buzzer_log}"
                before = station.store.last_seq()
                assert scanner.feed(code)
                try:
                    await _eventually(lambda before=before: station.store.last_seq() > before)
                except AssertionError:
                    raise AssertionError(f"step {n} {code!r}: no event") from None
                try:
                    await _eventually(lambda light=light: emulator.light == light)
                except AssertionError:
                    raise AssertionError(f"step {n} {code!r}: light {emulator.light}, wanted {light}") from None
                # Each scan plays its pattern exactly once: the log grows by one, with this step's sound.
                heard.append(buzzer)
                try:
                    await _eventually(lambda: len(emulator.buzzer_log) >= len(heard))
                except AssertionError:
                    raise AssertionError(f"step {n} {code!r}: no sound, buzzer log {emulator.buzzer_log}") from None
                assert emulator.buzzer_log == heard, f"step {n} {code!r}: buzzer log {emulator.buzzer_log}"
            assert emulator.buzzer == "blocked"  # the continuous alarm is still sounding after the last scan

            events = station.store.events_from(1, 1000)
            rejected = [e["data"]["reason"] for e in events if e["type"] == "scan.rejected"]
            assert rejected == ["wrong_item", "control_characters", "over_quantity", "order_cancelled"]
        finally:
            await station.stop()

    asyncio.run(main())


def _cancel(station: Station, order_id: str) -> None:
    cancel_order(station.store, order_id, "customer cancelled", HUB)
