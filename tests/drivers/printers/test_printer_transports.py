"""The links: TCP 9100 (half-close, read to EOF), the USB class device (a pty stands in), serial through
pyserial, and open_printer's URL forms."""

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from printer_testkit import PtyPrinter

from drivers.printers import PrinterConfigError, PrinterConnectError, PrinterTransferError, open_printer
from drivers.printers.serial_link import SerialTransport
from drivers.printers.sim import SimTransport, VirtualPrinterEngine
from drivers.printers.status import CMD_HOST_STATUS, host_status_complete
from drivers.printers.tcp import TcpTransport
from drivers.printers.usb import UsbTransport
from drivers.printers.virtual import VirtualPrinterServer

LABEL = b"^XA^FO50,50^A0N,40,40^FDHello^FS^XZ"


class RecordingServer:
    """A bare TCP peer that records each connection's bytes up to the sender's half-close, then replies."""

    def __init__(self, reply: bytes = b"", close_after_reply: bool = True) -> None:
        self.reply = reply
        self.close_after_reply = close_after_reply
        self.received: list[bytes] = []
        self.saw_half_close: list[bool] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                half_closed = False
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        half_closed = True
                        break
                    data += chunk
                self.received.append(data)
                self.saw_half_close.append(half_closed)
                conn.sendall(self.reply)
                if not self.close_after_reply:
                    self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def recording() -> Iterator[RecordingServer]:
    server = RecordingServer(reply=b"\x02a\x03\r\n\x02b\x03\r\n\x02c\x03\r\n")
    yield server
    server.stop()


def test_tcp_job_is_sent_whole_then_half_closed(recording: RecordingServer) -> None:
    transport = TcpTransport("127.0.0.1", recording.port, eof_timeout_s=1.0)
    transport.send(LABEL, 2.0)
    assert recording.received == [LABEL]
    assert recording.saw_half_close == [True]


def test_tcp_query_reads_the_reply_after_half_close(recording: RecordingServer) -> None:
    transport = TcpTransport("127.0.0.1", recording.port)
    reply = transport.query(CMD_HOST_STATUS, host_status_complete, 2.0)
    assert reply.count(b"\x03") == 3
    assert recording.received == [b"~HS"]


def test_tcp_one_connection_per_exchange(recording: RecordingServer) -> None:
    transport = TcpTransport("127.0.0.1", recording.port)
    transport.query(b"~HS", host_status_complete, 2.0)
    transport.send(LABEL, 2.0)
    transport.query(b"~HS", host_status_complete, 2.0)
    assert recording.received == [b"~HS", LABEL, b"~HS"]


def test_tcp_printer_that_keeps_the_connection_open_is_not_an_error() -> None:
    server = RecordingServer(close_after_reply=False)
    try:
        TcpTransport("127.0.0.1", server.port, eof_timeout_s=0.2).send(LABEL, 2.0)
        assert server.received == [LABEL]
    finally:
        server.stop()


def test_tcp_unreachable_printer_raises_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    transport = TcpTransport("127.0.0.1", free_port, connect_timeout_s=0.5)
    with pytest.raises(PrinterConnectError, match="cannot connect"):
        transport.query(b"~HS", host_status_complete, 0.5)
    with pytest.raises(PrinterConnectError):
        transport.send(LABEL, 0.5)


def test_tcp_silent_printer_query_gives_up_at_the_timeout() -> None:
    # A listener that accepts (the kernel does) but never reads nor answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        transport = TcpTransport("127.0.0.1", silent.getsockname()[1])
        assert transport.query(b"~HS", host_status_complete, 0.2) == b""


def test_tcp_reset_during_a_job_is_a_transfer_error() -> None:
    engine = VirtualPrinterEngine(render_png=False)
    engine.set_fault("drop_mid_job", 1)
    with VirtualPrinterServer(engine, port=0) as server:
        with pytest.raises(PrinterTransferError) as raised:
            TcpTransport("127.0.0.1", server.port).send(LABEL, 2.0)
        assert raised.value.bytes_sent > 0
    assert engine.jobs[0].state == "partial"


def test_usb_device_node_round_trip() -> None:
    engine = VirtualPrinterEngine(render_png=False)
    with PtyPrinter(engine) as device:
        printer = open_printer(f"usb://{device.path}", timeout_s=1.0, print_timeout_s=1.0, poll_interval_s=0.02)
        status = printer.status()
        assert status.ready
        assert status.odometer == 0
        result = printer.print_job("usb-1", LABEL)
        assert (result.state, result.labels_printed) == ("done", 1)
    assert engine.printed_job_ids() == ["usb-1"]


def test_usb_stale_reply_is_drained_before_the_next_query() -> None:
    engine = VirtualPrinterEngine(render_png=False)
    with PtyPrinter(engine) as device:
        # A late answer to an earlier query sits in the device when the next query starts.
        os.write(device.master, b'"999"')
        transport = UsbTransport(device.path)
        reply = transport.query(b'! U1 getvar "odometer.total_label_count"\r\n', lambda r: r.count(b'"') >= 2, 1.0)
        assert reply == b'"0"'


def test_usb_missing_device_is_unreachable(tmp_path: Path) -> None:
    printer = open_printer(f"usb://{tmp_path}/lp9")
    assert printer.status().reasons == ["unreachable"]
    with pytest.raises(PrinterConnectError, match="cannot open"):
        UsbTransport(str(tmp_path / "lp9")).send(LABEL, 1.0)


def test_serial_link_through_pyserial_url() -> None:
    # pyserial's socket:// handler turns the virtual printer's TCP port into a serial line: one long stream.
    engine = VirtualPrinterEngine(render_png=False)
    with VirtualPrinterServer(engine, port=0) as server:
        printer = open_printer(f"serial:socket://127.0.0.1:{server.port}", timeout_s=1.0, poll_interval_s=0.02)
        try:
            assert printer.status().ready
            assert printer.print_job("ser-1", LABEL).state == "done"
            assert printer.print_job("ser-2", LABEL).state == "done"
        finally:
            printer.close()
        assert server.connections == 1  # the port stayed open between exchanges
    assert engine.printed_job_ids() == ["ser-1", "ser-2"]


def test_serial_port_that_cannot_open(tmp_path: Path) -> None:
    transport = SerialTransport(str(tmp_path / "ttyUSB9"))
    with pytest.raises(PrinterConnectError, match="cannot open"):
        transport.query(b"~HS", host_status_complete, 0.2)


# ----------------------------------------------------------------------------------------- URLs


def test_url_forms() -> None:
    tcp = open_printer("tcp://10.0.0.5?timeout_s=2&eof_timeout_s=0.5", print_timeout_s=9)
    assert tcp.description == "tcp://10.0.0.5:9100"
    assert (tcp.options.timeout_s, tcp.options.print_timeout_s) == (2.0, 9.0)
    assert open_printer("tcp://printer-3:6101").description == "tcp://printer-3:6101"
    assert open_printer("usb:///dev/usb/lp0").description == "usb:///dev/usb/lp0"
    serial = open_printer("serial:///dev/ttyUSB0?baud=115200&parity=E")
    assert serial.description == "serial:/dev/ttyUSB0"
    assert serial.transport._settings["baudrate"] == 115200  # type: ignore[attr-defined]
    sim = open_printer("sim://bench7?paper_out=1&slow_ms=200&odometer=length")
    assert isinstance(sim.transport, SimTransport)
    assert sim.transport.engine.faults.paper_out
    assert sim.transport.engine.faults.slow_ms == 200
    assert sim.options.odometer == "length"


def test_sim_can_share_an_engine() -> None:
    engine = VirtualPrinterEngine()
    first = open_printer("sim://", engine=engine)
    second = open_printer("sim://", engine=engine)
    assert first.transport.engine is second.transport.engine  # type: ignore[attr-defined]
    with pytest.raises(PrinterConfigError, match="set faults on the engine"):
        open_printer("sim://?paper_out=1", engine=engine)


def test_sim_keeps_jobs_as_files(tmp_path: Path) -> None:
    printer = open_printer(f"sim://?dir={tmp_path}")
    printer.print_job("SO-1", LABEL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00001-SO-1.png", "00001-SO-1.zpl"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpr://printer", "unknown printer scheme 'lpr'"),
        ("tcp://", "write tcp://HOST:PORT"),
        ("tcp://host:99999", "bad port"),
        ("tcp://host?timeout=3", "timeout: Extra inputs are not permitted"),
        ("tcp://host?timeout_s=-1", "timeout_s: Input should be greater than 0"),
        ("usb://dev/usb/lp0", "three slashes"),
        ("serial://ttyUSB0", "three slashes"),
        ("serial:///dev/ttyUSB0?parity=X", "parity"),
        ("sim://?paper_out=maybe", "paper_out"),
        ("sim://?odometer=pages", "odometer"),
        ("sim:///path", "not a path"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(PrinterConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        open_printer(url)
