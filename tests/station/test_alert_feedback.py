"""What alerts show at the bench: a device that is down has its own light and buzzer pattern, every other alert
the attention pattern, and the fault pattern ends when the last device is back (docs/orders.md, "Priority and
alerts"; docs/architecture.md, "Devices")."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchkit import ADMIN, HUB, RecordingIndicator, order_doc

from station.alerts.ledger import active_alerts, clear_alert, raise_alert
from station.alerts.monitor import AlertMonitor
from station.app import Station
from station.config import load_settings
from station.events import SYSTEM
from station.orders.intake import intake_order
from station.orders.model import Feedback, Role
from station.orders.operators import add_operator
from station.printing import Alert
from station.priority.rules import PrioritySettings
from station.store import Store

FAULT_LIGHT = {"red": "off", "amber": "fast_blink", "green": "off"}
DARK = {"red": "off", "amber": "off", "green": "off"}


def _shown(indicator: RecordingIndicator) -> list[Feedback]:
    return [feedback for _bench, feedback, _message in indicator.signals]


def _active(station: Station) -> set[tuple[str, str]]:
    return {(a["alert"], a["subject"]) for a in active_alerts(station.store)}


def test_a_device_down_alert_shows_device_fault_and_other_alerts_attention(store: Store) -> None:
    indicator = RecordingIndicator()
    monitor = AlertMonitor(store, PrioritySettings(pending_max=1), indicator)
    for device in ("scanner:s1", "printer:B01", "camera", "controller", "broker"):
        monitor.device_state(device, up=False, detail="gone")
    assert _shown(indicator) == [Feedback.DEVICE_FAULT] * 5
    for order_id in ("SO20260205-0001", "SO20260205-0002"):
        assert intake_order(store, order_doc(order_id=order_id), HUB).ok
    monitor.tick()  # two pending orders are more than pending_max = 1: a queue backlog
    assert _shown(indicator)[-1] is Feedback.ATTENTION


def test_the_fault_pattern_ends_only_when_the_last_device_is_back(store: Store) -> None:
    indicator = RecordingIndicator()
    monitor = AlertMonitor(store, PrioritySettings(), indicator)
    monitor.device_state("printer:B01", up=False)
    monitor.device_state("camera", up=False)
    monitor.device_state("printer:B01", up=True)
    assert _shown(indicator) == [Feedback.DEVICE_FAULT, Feedback.DEVICE_FAULT]  # the camera is still down
    monitor.device_state("camera", up=True)
    assert _shown(indicator)[-1] is Feedback.DEVICE_OK
    monitor.device_state("camera", up=True)
    assert len(indicator.signals) == 3  # a repeated "up" is no news


def test_no_fault_pattern_when_the_alert_light_is_switched_off(store: Store) -> None:
    indicator = RecordingIndicator()
    monitor = AlertMonitor(store, PrioritySettings(attention_light=False), indicator)
    monitor.device_state("printer:B01", up=False)
    monitor.device_state("printer:B01", up=True)
    assert indicator.signals == []


# -- on the emulated controller ----------------------------------------------------------------------------------


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
            "STATION_WORKFLOW__BOUNCE_WINDOW_MS": "0",
        },
    )
    station = Station.build(settings)
    add_operator(station.store, "OP-001", "李四", Role.PACKER, ADMIN)

    async def main() -> None:
        await station.start()
        try:
            assert station.bench_io is not None
            assert await station.bench_io.controller.wait_connected(10)
            await body(station)
        finally:
            await station.stop()

    asyncio.run(main())


async def _on_writer(station: Station, call: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(station.writer, call, *args)


def test_a_printer_down_blinks_amber_fast_and_sounds_fault_until_it_is_back(tmp_path: Path) -> None:
    async def body(station: Station) -> None:
        assert station.bench_io is not None
        emulator = station.bench_io.controller.emulator
        assert emulator is not None
        await _on_writer(station, station.alerts.device_state, "printer:B01", False, "no answer to ~HS")
        await _eventually(lambda: emulator.light == FAULT_LIGHT and emulator.buzzer == "fault")
        assert emulator.buzzer_log[-1:] == ["fault"]
        await _on_writer(station, station.alerts.device_state, "printer:B01", True, "")
        await _eventually(lambda: emulator.light == DARK and emulator.buzzer == "off")  # silenced, not just over

    _run(tmp_path, body)


def test_a_scan_after_the_fault_is_not_blanked_when_the_device_comes_back(tmp_path: Path) -> None:
    async def body(station: Station) -> None:
        assert station.bench_io is not None
        emulator = station.bench_io.controller.emulator
        assert emulator is not None
        await _on_writer(station, station.alerts.device_state, "camera", False, "frozen")
        await _eventually(lambda: emulator.buzzer == "fault")
        assert (await _on_writer(station, station.workflow.handle_scan, "B01", "OP-001", "s1", None)).accepted
        await _eventually(lambda: emulator.light["green"] == "steady")
        await _on_writer(station, station.alerts.device_state, "camera", True, "")
        await asyncio.sleep(0.5)
        assert emulator.light == {"red": "off", "amber": "off", "green": "steady"}
        assert emulator.buzzer_log[-2:] == ["fault", "ok"]

    _run(tmp_path, body)


def test_an_unplugged_controller_gets_no_fault_alarm_replayed_after_replug(tmp_path: Path) -> None:
    async def body(station: Station) -> None:
        assert station.bench_io is not None
        controller = station.bench_io.controller
        emulator = controller.emulator
        assert emulator is not None
        emulator.unplug()
        await _eventually(lambda: _active(station) >= {("device_down", "controller")}, timeout_s=20)
        emulator.replug()
        await _eventually(lambda: ("device_down", "controller") not in _active(station), timeout_s=20)
        await asyncio.sleep(0.5)
        assert "fault" not in emulator.buzzer_log  # the safe state said it; replaying it after replug would lie

    _run(tmp_path, body)


def test_alerts_the_print_queue_raises_show_the_attention_pattern(store: Store) -> None:
    indicator = RecordingIndicator()
    AlertMonitor(store, PrioritySettings(), indicator)
    with store.transaction() as tx:  # as the print queue does, in its own transaction
        raise_alert(tx, Alert.LABEL_UNKNOWN, "job-1", SYSTEM, None, job_id="job-1")
    assert _shown(indicator) == [Feedback.ATTENTION]
    with store.transaction() as tx:
        clear_alert(tx, Alert.LABEL_UNKNOWN, "job-1", SYSTEM)
    assert _shown(indicator) == [Feedback.ATTENTION]  # a clear is no news for the light
