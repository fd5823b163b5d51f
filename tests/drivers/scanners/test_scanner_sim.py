"""SimScanner: feeding, scripts, the FIFO, and each fault knob."""

import asyncio
import errno
import os
from pathlib import Path

import pytest
from scanner_testkit import Collector, settle, wait_until

from drivers.scanners import ScannerConfigError, ScannerStateError, SimOptions, SimScanner
from drivers.scanners.sim import parse_script


def test_feed_delivers_with_name_and_symbology() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(name="bench-1", options=SimOptions()), Collector()
        await scanner.start(sink)
        assert scanner.connected
        assert scanner.feed("]E06901234567892")
        assert scanner.feed(b"OP-1", symbology="code128")
        first, second = await sink.get(), await sink.get()
        assert (first.data, first.device, first.symbology) == (b"]E06901234567892", "bench-1", None)
        assert (second.data, second.symbology) == (b"OP-1", "code128")
        await scanner.stop()
        assert not scanner.connected

    asyncio.run(scenario())


def test_feed_before_start_is_an_error() -> None:
    with pytest.raises(ScannerStateError):
        SimScanner().feed("X")


def test_script_plays_in_order_after_start() -> None:
    async def scenario() -> None:
        steps = [(0.0, "OP-1"), (0.01, "SO-1"), (0.0, "6901234567892")]
        scanner, sink = SimScanner(options=SimOptions(script=steps)), Collector()
        await scanner.start(sink)
        assert [(await sink.get()).data for _ in steps] == [b"OP-1", b"SO-1", b"6901234567892"]
        assert scanner.script_done
        await scanner.stop()

    asyncio.run(scenario())


def test_script_file_format(tmp_path: Path) -> None:
    script = tmp_path / "bench.script"
    script.write_text("# a packer\nOP-0001\n\n+0.5 SO20260205-8821\n  +1 CMD:QTY:3  \n", encoding="utf-8")
    assert parse_script(script.read_text(encoding="utf-8")) == [
        (0.0, "OP-0001"),
        (0.5, "SO20260205-8821"),
        (1.0, "CMD:QTY:3"),
    ]
    assert SimScanner(options=SimOptions(script=str(script)))._script[1] == (0.5, "SO20260205-8821")


@pytest.mark.parametrize("line", ["+x CODE", "+1", "+-1 CODE"])
def test_bad_script_lines_are_config_errors(line: str) -> None:
    with pytest.raises(ScannerConfigError, match="line 1"):
        parse_script(line)


def test_missing_script_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ScannerConfigError, match="cannot read script"):
        SimScanner(options=SimOptions(script=str(tmp_path / "nope")))


def test_fifo_lines_become_codes_and_survive_writers_coming_and_going(tmp_path: Path) -> None:
    fifo = tmp_path / "scanner.fifo"

    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(fifo=str(fifo))), Collector()
        reads = [0]
        handler = scanner._handle_fifo_readable

        def counting_handler() -> None:
            reads[0] += 1
            handler()

        scanner._handle_fifo_readable = counting_handler  # type: ignore[method-assign]
        await scanner.start(sink)
        with open(fifo, "wb") as writer:
            writer.write(b"ONE\r\nTWO\n")
        assert [(await sink.get()).data for _ in range(2)] == [b"ONE", b"TWO"]
        # No writer now: the FIFO must not read as end-of-file over and over (a busy loop).
        await asyncio.sleep(0.05)
        assert reads[0] <= 2
        with open(fifo, "wb") as writer:
            writer.write(b"THREE\n")
        assert (await sink.get()).data == b"THREE"
        await scanner.stop()

    asyncio.run(scenario())
    assert fifo.is_fifo()


def test_a_regular_file_is_not_taken_for_a_fifo(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.touch()

    async def scenario() -> None:
        with pytest.raises(ScannerConfigError, match="not a FIFO"):
            await SimScanner(options=SimOptions(fifo=str(path))).start(Collector())

    asyncio.run(scenario())


def test_unplug_after_n_scans_loses_codes_then_replugs() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(unplug_after=2, replug_after_s=0.02)), Collector()
        await scanner.start(sink)
        scanner.feed("A")
        scanner.feed("B")
        assert [(await sink.get()).data for _ in range(2)] == [b"A", b"B"]
        assert not scanner.connected
        assert not scanner.feed("LOST")
        assert scanner.lost == 1
        await wait_until(lambda: scanner.connected, "replug")
        scanner.feed("C")
        assert (await sink.get()).data == b"C"
        assert [scan.data for scan in sink.all] == [b"A", b"B", b"C"]
        await scanner.stop()

    asyncio.run(scenario())


def test_replug_after_zero_waits_for_an_explicit_replug() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(unplug_after=1, replug_after_s=0)), Collector()
        await scanner.start(sink)
        scanner.feed("A")
        await sink.get()
        await asyncio.sleep(0.05)
        assert not scanner.connected
        scanner.replug()
        assert scanner.connected
        await scanner.stop()

    asyncio.run(scenario())


def test_unplug_loses_codes_in_flight() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(slow_ms=20, replug_after_s=0)), Collector()
        await scanner.start(sink)
        scanner.feed("IN-FLIGHT")
        scanner.unplug()
        scanner.replug()
        scanner.feed("NEXT")
        assert (await sink.get()).data == b"NEXT"
        await asyncio.sleep(0.05)
        assert [scan.data for scan in sink.all] == [b"NEXT"]
        await scanner.stop()

    asyncio.run(scenario())


def test_garbage_rate_one_turns_every_code_into_printable_garbage() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(garbage_rate=1.0, seed=7)), Collector()
        await scanner.start(sink)
        scanner.feed("6901234567892")
        scan = await sink.get()
        assert scan.data != b"6901234567892"
        assert len(scan.data) == 13
        assert all(0x21 <= byte < 0x7F for byte in scan.data)
        await scanner.stop()

    asyncio.run(scenario())


def test_garbage_rate_is_reproducible_with_a_seed() -> None:
    async def run_once() -> list[bytes]:
        scanner, sink = SimScanner(options=SimOptions(garbage_rate=0.5, seed=42)), Collector()
        await scanner.start(sink)
        for n in range(40):
            scanner.feed(f"CODE-{n:02d}")
        got = [(await sink.get()).data for _ in range(40)]
        await scanner.stop()
        return got

    first, second = asyncio.run(run_once()), asyncio.run(run_once())
    assert first == second
    clean = sum(data.startswith(b"CODE-") for data in first)
    assert 0 < clean < 40


def test_double_read_delivers_the_same_code_twice() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(double_read=True, double_read_gap_ms=5)), Collector()
        await scanner.start(sink)
        scanner.feed("6901234567892")
        first, second = await sink.get(), await sink.get()
        assert first.data == second.data == b"6901234567892"
        assert first.at_monotonic <= second.at_monotonic
        assert scanner.delivered == 2
        await scanner.stop()

    asyncio.run(scenario())


def test_double_read_echo_does_not_count_towards_unplug_after() -> None:
    async def scenario() -> None:
        options = SimOptions(double_read=True, double_read_gap_ms=0, unplug_after=2, replug_after_s=0)
        scanner, sink = SimScanner(options=options), Collector()
        await scanner.start(sink)
        scanner.feed("A")
        await sink.get()
        await sink.get()
        assert scanner.connected
        await scanner.stop()

    asyncio.run(scenario())


def test_slow_ms_delays_delivery() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(slow_ms=30)), Collector()
        await scanner.start(sink)
        scanner.feed("SLOW")
        await settle()
        assert sink.all == []
        assert (await sink.get()).data == b"SLOW"
        await scanner.stop()

    asyncio.run(scenario())


def test_stop_cancels_codes_in_flight() -> None:
    async def scenario() -> None:
        scanner, sink = SimScanner(options=SimOptions(slow_ms=10)), Collector()
        await scanner.start(sink)
        scanner.feed("NEVER")
        await scanner.stop()
        await asyncio.sleep(0.03)
        assert sink.all == []

    asyncio.run(scenario())


def test_stop_closes_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "f"

    async def scenario() -> None:
        scanner = SimScanner(options=SimOptions(fifo=str(fifo)))
        await scanner.start(Collector())
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a reader is there
        await scanner.stop()

    asyncio.run(scenario())
    # With no reader left, a non-blocking open for writing fails with ENXIO.
    with pytest.raises(OSError) as raised:
        os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    assert raised.value.errno == errno.ENXIO
