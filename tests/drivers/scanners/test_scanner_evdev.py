"""EvdevScanner with fake devices: grab, per-device decoding, ENODEV and re-discovery, partial codes, discovery."""

import asyncio
import errno
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from evdev import ecodes as e
from scanner_testkit import Collector, FakeInputBus, settle, tap, type_code, wait_until

from drivers.scanners import EvdevOptions, EvdevScanner, RawScan
from drivers.scanners.evdev_reader import find_by_glob, find_by_usb_id, parse_usb_id

FAST = EvdevOptions(rescan_interval_s=0.01, partial_timeout_s=0.05)
KBD = "/dev/input/by-id/usb-Honeywell_1900-event-kbd"
KBD2 = "/dev/input/by-id/usb-Zebra_DS2208-event-kbd"


def make(bus: FakeInputBus, name: str | None = None, options: EvdevOptions = FAST) -> EvdevScanner:
    return EvdevScanner("usb-*-event-kbd", name=name, options=options, find_devices=bus.find, open_device=bus.open)


@pytest.fixture
def bus() -> Iterator[FakeInputBus]:
    fake = FakeInputBus()
    yield fake
    fake.close_all()


def test_device_is_grabbed_and_codes_carry_its_by_id_name(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "usb-Honeywell_1900-event-kbd")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        device = bus.current(KBD)
        assert device is not None
        assert device.grabbed
        assert scanner.connected
        assert scanner.devices == ["usb-Honeywell_1900-event-kbd"]
        device.push(type_code(b"]C1SO-1"))
        scan = await sink.get()
        assert scan.data == b"]C1SO-1"
        assert scan.device == "usb-Honeywell_1900-event-kbd"
        assert scan.symbology is None
        await scanner.stop()
        assert device.closed
        assert not scanner.connected

    asyncio.run(scenario())


def test_each_device_has_its_own_decoder(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd-1")
        bus.plug(KBD2, "kbd-2")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        first, second = bus.current(KBD), bus.current(KBD2)
        assert first is not None
        assert second is not None
        # The first scanner is mid-code, with Shift held, when the second types a whole code.
        first.push(tap(e.KEY_A) + tap(e.KEY_LEFTSHIFT)[:3] + tap(e.KEY_B))
        await settle()
        second.push(type_code(b"12"))
        got = await sink.get()
        assert (got.device, got.data) == ("kbd-2", b"12")
        first.push(tap(e.KEY_C) + tap(e.KEY_LEFTSHIFT)[3:] + tap(e.KEY_D) + tap(e.KEY_ENTER))
        got = await sink.get()
        assert (got.device, got.data) == ("kbd-1", b"aBCd")
        await scanner.stop()

    asyncio.run(scenario())


def test_configured_name_is_the_device_name_of_every_scan(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "usb-Honeywell_1900-event-kbd")
        scanner, sink = make(bus, name="bench-3-scanner"), Collector()
        await scanner.start(sink)
        device = bus.current(KBD)
        assert device is not None
        device.push(type_code(b"X"))
        assert (await sink.get()).device == "bench-3-scanner"
        assert scanner.name == "bench-3-scanner"
        await scanner.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("err", [errno.ENODEV, errno.EIO])
def test_unplug_drops_the_fd_and_rediscovery_regrabs(bus: FakeInputBus, err: int) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        first = bus.current(KBD)
        assert first is not None
        first.push(tap(e.KEY_A))  # half a code, lost with the device
        await settle()
        bus.present.pop(KBD)
        first.unplug(err)
        await wait_until(lambda: not scanner.connected, "disconnect")
        assert first.closed
        calls = bus.find_calls
        await wait_until(lambda: bus.find_calls > calls + 2, "periodic rescans while the device is away")
        bus.plug(KBD, "kbd")
        await wait_until(lambda: scanner.connected, "reconnect")
        second = bus.current(KBD)
        assert second is not None
        assert second is not first
        assert second.grabbed
        second.push(type_code(b"B"))
        assert (await sink.get()).data == b"B"
        assert sink.all[:-1] == []
        await scanner.stop()

    asyncio.run(scenario())


def test_one_of_two_devices_unplugged_is_found_again_while_the_other_keeps_working(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd-1")
        bus.plug(KBD2, "kbd-2")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        bus.remove(KBD)
        await wait_until(lambda: scanner.devices == ["kbd-2"], "first device dropped")
        assert scanner.connected
        second = bus.current(KBD2)
        assert second is not None
        second.push(type_code(b"STILL"))
        assert (await sink.get()).data == b"STILL"
        calls = bus.find_calls
        await wait_until(lambda: bus.find_calls > calls + 2, "rescans while one device is missing")
        bus.plug(KBD, "kbd-1")
        await wait_until(lambda: sorted(scanner.devices) == ["kbd-1", "kbd-2"], "first device back")
        first = bus.current(KBD)
        assert first is not None
        first.push(type_code(b"BACK"))
        assert (await sink.get()).device == "kbd-1"
        await scanner.stop()

    asyncio.run(scenario())


def test_no_rescanning_while_every_device_is_present(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        scanner = make(bus)
        await scanner.start(Collector())
        calls = bus.find_calls
        await asyncio.sleep(FAST.rescan_interval_s * 10)
        assert bus.find_calls == calls
        await scanner.stop()

    asyncio.run(scenario())


def test_absent_at_start_then_plugged_in(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        assert not scanner.connected
        bus.plug(KBD, "kbd")
        await wait_until(lambda: scanner.connected, "device found")
        device = bus.current(KBD)
        assert device is not None
        device.push(type_code(b"LATE"))
        assert (await sink.get()).data == b"LATE"
        await scanner.stop()

    asyncio.run(scenario())


def test_a_device_grabbed_by_another_program_is_retried(bus: FakeInputBus, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        bus.next_grab_error = OSError(errno.EBUSY, "Device or resource busy")
        scanner = make(bus)
        await scanner.start(Collector())
        busy = bus.current(KBD)
        assert busy is not None
        assert busy.closed
        assert not scanner.connected
        await wait_until(lambda: scanner.connected, "grab on retry")
        assert any("held by another program" in r.getMessage() for r in caplog.records)
        await scanner.stop()

    asyncio.run(scenario())


def test_a_partial_code_without_enter_is_dropped_not_glued_to_the_next(
    bus: FakeInputBus, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        device = bus.current(KBD)
        assert device is not None
        device.push(tap(e.KEY_P) + tap(e.KEY_Q))
        await wait_until(lambda: scanner.dropped_partials == 1, "partial timeout")
        device.push(type_code(b"OK"))
        assert (await sink.get()).data == b"OK"
        assert any("b'pq'" in r.getMessage() for r in caplog.records)
        await scanner.stop()

    asyncio.run(scenario())


def test_a_failing_sink_does_not_stop_the_reader(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        seen: list[RawScan] = []

        def sink(scan: RawScan) -> None:
            seen.append(scan)
            if scan.data == b"BAD":
                raise RuntimeError("core blew up")

        scanner = make(bus)
        await scanner.start(sink)
        device = bus.current(KBD)
        assert device is not None
        device.push(type_code(b"BAD") + type_code(b"GOOD"))
        await wait_until(lambda: len(seen) == 2, "both scans")
        assert [scan.data for scan in seen] == [b"BAD", b"GOOD"]
        assert scanner.connected
        await scanner.stop()

    asyncio.run(scenario())


def test_key_events_go_to_the_wire_log(bus: FakeInputBus, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus.plug(KBD, "kbd")
        scanner, sink = make(bus), Collector()
        await scanner.start(sink)
        device = bus.current(KBD)
        assert device is not None
        device.push(type_code(b"W"))
        await sink.get()
        await scanner.stop()

    with caplog.at_level(logging.DEBUG, logger="drivers.scanners.wire"):
        asyncio.run(scenario())
    wire = [r.getMessage() for r in caplog.records if r.name == "drivers.scanners.wire"]
    assert any(f"1:{e.KEY_W}:1" in line for line in wire)


def test_start_twice_is_refused_and_stop_twice_is_fine(bus: FakeInputBus) -> None:
    async def scenario() -> None:
        scanner = make(bus)
        await scanner.start(Collector())
        with pytest.raises(Exception, match="already started"):
            await scanner.start(Collector())
        await scanner.stop()
        await scanner.stop()

    asyncio.run(scenario())


# ---------------------------------------------------------------------------------------------- discovery


def test_parse_usb_id() -> None:
    assert parse_usb_id("0c2e:0B61") == (0x0C2E, 0x0B61)
    assert parse_usb_id("/dev/input/by-id/x") is None
    assert parse_usb_id("c2e:b61") is None


def test_find_by_glob_names_devices_by_their_link(tmp_path: Path) -> None:
    for name in ("usb-Honeywell_1900-event-kbd", "usb-Honeywell_1900-if01-event-mouse", "usb-Logitech-event-kbd"):
        (tmp_path / name).touch()
    found = find_by_glob(str(tmp_path / "usb-Honeywell*-event-kbd"))
    assert [(c.name, c.path) for c in found] == [
        ("usb-Honeywell_1900-event-kbd", str(tmp_path / "usb-Honeywell_1900-event-kbd"))
    ]


def test_find_by_usb_id_reads_sysfs_and_prefers_the_by_id_name(tmp_path: Path) -> None:
    sysfs, dev, by_id = tmp_path / "sys", tmp_path / "dev", tmp_path / "by-id"
    for directory in (sysfs, dev, by_id):
        directory.mkdir()

    def device(node: str, vendor: str | None, product: str | None) -> None:
        ids = sysfs / node / "device" / "id"
        ids.mkdir(parents=True)
        if vendor is not None:
            (ids / "vendor").write_text(vendor + "\n")
        if product is not None:
            (ids / "product").write_text(product + "\n")
        (dev / node).touch()

    device("event3", "0c2e", "0b61")
    device("event4", "046d", "c31c")
    device("event5", "0c2e", None)
    device("event7", "0c2e", "0b61")
    (by_id / "usb-Honeywell_1900_SN1-event-kbd").symlink_to(dev / "event3")
    found = find_by_usb_id(0x0C2E, 0x0B61, sys_class_input=str(sysfs), dev_input=str(dev), by_id_dir=str(by_id))
    assert [(c.name, c.path) for c in found] == [
        ("usb-Honeywell_1900_SN1-event-kbd", str(dev / "event3")),
        ("event7", str(dev / "event7")),
    ]
