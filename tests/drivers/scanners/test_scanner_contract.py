"""The same behaviours, run against every scan source: evdev (fake devices), serial (real pty) and sim.

Each harness plays the device side: it types or writes a code with its transport's framing, and it can pull
the cable and plug it back. The tests only use the ``ScanSource`` interface on the other side.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from scanner_testkit import Collector, FakeInputBus, PtyPort, type_code, wait_until

from drivers.scanners import (
    EvdevOptions,
    EvdevScanner,
    ScanSource,
    SerialOptions,
    SerialScanner,
    SimOptions,
    SimScanner,
)

NAME = "bench-7-scanner"


class Harness(Protocol):
    source: ScanSource

    def emit(self, codes: list[bytes]) -> None:
        """Send ``codes`` from the device side in one burst, each with its end-of-code framing."""

    def unplug(self) -> None:
        """Pull the cable."""

    def replug(self) -> None:
        """Plug it back."""


class EvdevHarness:
    path = "/dev/input/by-id/usb-Honeywell_1900-event-kbd"

    def __init__(self) -> None:
        self.bus = FakeInputBus()
        self.bus.plug(self.path, "usb-Honeywell_1900-event-kbd")
        options = EvdevOptions(rescan_interval_s=0.01)
        self.source = EvdevScanner(
            "usb-Honeywell*", name=NAME, options=options, find_devices=self.bus.find, open_device=self.bus.open
        )

    def emit(self, codes: list[bytes]) -> None:
        device = self.bus.current(self.path)
        assert device is not None
        device.push([event for code in codes for event in type_code(code)])

    def unplug(self) -> None:
        self.bus.remove(self.path)

    def replug(self) -> None:
        self.bus.plug(self.path, "usb-Honeywell_1900-event-kbd")

    def close(self) -> None:
        self.bus.close_all()


class SerialHarness:
    def __init__(self, tmp_path: Path) -> None:
        self.port = PtyPort(tmp_path / "usb-Datalogic-if00-port0")
        self.port.plug()
        options = SerialOptions(reconnect_initial_s=0.01, reconnect_max_s=0.02)
        self.source = SerialScanner(str(self.port.link), name=NAME, options=options)

    def emit(self, codes: list[bytes]) -> None:
        self.port.write(b"".join(code + b"\r\n" for code in codes))

    def unplug(self) -> None:
        self.port.unplug()

    def replug(self) -> None:
        self.port.plug()

    def close(self) -> None:
        self.port.unplug()


class SimHarness:
    def __init__(self) -> None:
        self.sim = SimScanner(name=NAME, options=SimOptions(replug_after_s=0))
        self.source = self.sim

    def emit(self, codes: list[bytes]) -> None:
        for code in codes:
            self.sim.feed(code)

    def unplug(self) -> None:
        self.sim.unplug()

    def replug(self) -> None:
        self.sim.replug()

    def close(self) -> None:
        pass


@pytest.fixture(params=["evdev", "serial", "sim"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EvdevHarness | SerialHarness | SimHarness]:
    made: EvdevHarness | SerialHarness | SimHarness
    if request.param == "evdev":
        made = EvdevHarness()
    elif request.param == "serial":
        made = SerialHarness(tmp_path)
    else:
        made = SimHarness()
    yield made
    made.close()


async def start(harness: Harness) -> Collector:
    sink = Collector()
    await harness.source.start(sink)
    await wait_until(lambda: harness.source.connected, "connected")
    return sink


def test_delivers_a_code_with_device_name_and_end_of_code_time(harness: Harness) -> None:
    async def scenario() -> None:
        sink = await start(harness)
        before_wall, before_mono = time.time(), time.monotonic()
        harness.emit([b"SO20260205-8821"])
        scan = await sink.get()
        assert scan.data == b"SO20260205-8821"
        assert scan.device == NAME
        assert harness.source.name == NAME
        assert scan.symbology is None
        assert before_wall <= scan.at_wall <= time.time()
        assert before_mono <= scan.at_monotonic <= time.monotonic()
        await harness.source.stop()

    asyncio.run(scenario())


def test_frames_a_burst_of_codes_in_order_keeping_aim_prefix_and_gs(harness: Harness) -> None:
    codes = [b"]E06901234567892", b"]d2010690123456789210ABC\x1d21XYZ", b"OP-0001", b"CMD:QTY:3"]

    async def scenario() -> None:
        sink = await start(harness)
        harness.emit(codes)
        assert [(await sink.get()).data for _ in codes] == codes
        await harness.source.stop()

    asyncio.run(scenario())


def test_reconnects_after_an_unplug(harness: Harness) -> None:
    async def scenario() -> None:
        sink = await start(harness)
        harness.emit([b"BEFORE"])
        assert (await sink.get()).data == b"BEFORE"
        harness.unplug()
        await wait_until(lambda: not harness.source.connected, "disconnected")
        harness.replug()
        await wait_until(lambda: harness.source.connected, "reconnected")
        harness.emit([b"AFTER"])
        assert (await sink.get()).data == b"AFTER"
        assert [scan.data for scan in sink.all] == [b"BEFORE", b"AFTER"]
        await harness.source.stop()

    asyncio.run(scenario())


def test_stop_disconnects_and_can_be_repeated(harness: Harness) -> None:
    async def scenario() -> None:
        await start(harness)
        await harness.source.stop()
        assert not harness.source.connected
        await harness.source.stop()

    asyncio.run(scenario())
