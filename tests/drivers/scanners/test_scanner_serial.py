"""SerialScanner over real ptys, and the line framer it uses: framing, partial frames, unplug and reopen."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st
from scanner_testkit import Collector, PtyPort, wait_until

from drivers.scanners import LineFramer, ScannerConfigError, SerialOptions, SerialScanner

FAST = SerialOptions(partial_timeout_s=0.05, reconnect_initial_s=0.01, reconnect_max_s=0.05)


@pytest.fixture
def port(tmp_path: Path) -> Iterator[PtyPort]:
    pty = PtyPort(tmp_path / "usb-Datalogic_QD2430-if00-port0")
    yield pty
    pty.unplug()


async def started(
    port: PtyPort, options: SerialOptions = FAST, name: str | None = None
) -> tuple[SerialScanner, Collector]:
    scanner, sink = SerialScanner(str(port.link), name=name, options=options), Collector()
    await scanner.start(sink)
    await wait_until(lambda: scanner.connected, "port open")
    return scanner, sink


def test_cr_lf_and_crlf_all_end_a_code(port: PtyPort) -> None:
    async def scenario() -> None:
        port.plug()
        scanner, sink = await started(port)
        port.write(b"A1\rB2\nC3\r\n\r\nD4\r")
        assert [(await sink.get()).data for _ in range(4)] == [b"A1", b"B2", b"C3", b"D4"]
        assert scanner.name == "usb-Datalogic_QD2430-if00-port0"
        assert sink.all[0].device == "usb-Datalogic_QD2430-if00-port0"
        await scanner.stop()
        assert not scanner.connected

    asyncio.run(scenario())


def test_crlf_split_across_reads_gives_one_code(port: PtyPort, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        port.plug()
        scanner, sink = await started(port, FAST.model_copy(update={"eol": "crlf"}))
        port.write(b"SF1234567890123\r")
        await wait_until(
            lambda: any("\\r'" in r.getMessage() for r in caplog.records if r.name == "drivers.scanners.wire"),
            "the first half on the wire",
        )
        port.write(b"\nNEXT\r\n")
        assert (await sink.get()).data == b"SF1234567890123"
        assert (await sink.get()).data == b"NEXT"
        await scanner.stop()

    with caplog.at_level(logging.DEBUG, logger="drivers.scanners.wire"):
        asyncio.run(scenario())


def test_a_partial_frame_is_dropped_after_the_timeout(port: PtyPort, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        port.plug()
        scanner, sink = await started(port)
        port.write(b"HALF")
        await wait_until(lambda: scanner.dropped_partials == 1, "partial frame timeout")
        port.write(b"WHOLE\r")
        assert (await sink.get()).data == b"WHOLE"
        assert sink.all == [sink.all[0]]
        await scanner.stop()

    asyncio.run(scenario())
    assert any("b'HALF'" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_unplug_and_replug_reopens_the_port(port: PtyPort) -> None:
    async def scenario() -> None:
        port.plug()
        scanner, sink = await started(port, name="bench-2-serial")
        port.write(b"BEFORE\r")
        assert (await sink.get()).data == b"BEFORE"
        port.unplug()
        await wait_until(lambda: not scanner.connected, "disconnect")
        assert scanner.disconnects == 1
        port.plug()
        await wait_until(lambda: scanner.connected, "reconnect")
        port.write(b"AFTER\r")
        scan = await sink.get()
        assert (scan.data, scan.device) == (b"AFTER", "bench-2-serial")
        await scanner.stop()

    asyncio.run(scenario())


def test_a_port_missing_at_start_is_opened_when_it_appears(port: PtyPort) -> None:
    async def scenario() -> None:
        scanner, sink = SerialScanner(str(port.link), options=FAST), Collector()
        await scanner.start(sink)
        assert not scanner.connected
        await asyncio.sleep(FAST.reconnect_max_s)
        port.plug()
        await wait_until(lambda: scanner.connected, "port found")
        port.write(b"HELLO\n")
        assert (await sink.get()).data == b"HELLO"
        await scanner.stop()

    asyncio.run(scenario())


def test_reopen_backs_off_exponentially_and_starts_over_after_a_success(port: PtyPort) -> None:
    options = SerialOptions(reconnect_initial_s=0.01, reconnect_max_s=0.05)
    delays: list[float | None] = []

    def flaky_factory(url: str, **kwargs: object) -> object:
        delays.append(scanner.retry_delay_s)
        if len(delays) <= 4:
            raise serial.SerialException("not enumerated yet")
        return serial.serial_for_url(url, **kwargs)

    scanner = SerialScanner(str(port.link), options=options, serial_factory=flaky_factory)

    async def scenario() -> None:
        port.plug()
        await scanner.start(Collector())
        await wait_until(lambda: scanner.connected, "open on the fifth attempt")
        assert delays == [None, 0.01, 0.02, 0.04, 0.05]
        assert scanner.retry_delay_s is None
        port.unplug()
        await wait_until(lambda: len(delays) > 5, "first reopen attempt after the unplug")
        assert delays[5] == 0.01
        await scanner.stop()

    asyncio.run(scenario())


def test_eol_lf_keeps_a_carriage_return_as_data(port: PtyPort) -> None:
    async def scenario() -> None:
        port.plug()
        scanner, sink = await started(port, FAST.model_copy(update={"eol": "lf"}))
        port.write(b"A\rB\n")
        assert (await sink.get()).data == b"A\rB"
        await scanner.stop()

    asyncio.run(scenario())


def test_reconnect_limits_must_be_ordered() -> None:
    with pytest.raises(ScannerConfigError):
        SerialScanner("/dev/null", options=SerialOptions(reconnect_initial_s=5, reconnect_max_s=1))


# ---------------------------------------------------------------------------------------------- framer


@pytest.mark.parametrize(
    ("eol", "stream", "frames"),
    [
        ("any", b"A\rB\nC\r\nD\n\rE\r\r\n", [b"A", b"B", b"C", b"D", b"E"]),
        ("cr", b"A\rB\nC\r", [b"A", b"B\nC"]),
        ("lf", b"A\r\nB\n", [b"A\r", b"B"]),
        ("crlf", b"A\rB\r\nC\nD\r\n", [b"A\rB", b"C\nD"]),
    ],
)
def test_framer_modes(eol: str, stream: bytes, frames: list[bytes]) -> None:
    framer = LineFramer(eol)  # type: ignore[arg-type]
    assert framer.feed(stream) == frames
    assert not framer.pending


def test_framer_drops_an_endless_frame() -> None:
    framer = LineFramer(max_frame_bytes=8)
    assert framer.feed(b"0123456789") == []
    assert framer.overflows == 1
    assert framer.feed(b"OK\r") == [b"OK"]


codes = st.lists(
    st.binary(min_size=1, max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b), min_size=1, max_size=8
)


@given(codes, st.data())
def test_framer_any_split_of_any_terminators_gives_the_codes(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame + data.draw(st.sampled_from([b"\r", b"\n", b"\r\n"])) for frame in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer, got = LineFramer(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += framer.feed(stream[start:end])
    assert got == frames
