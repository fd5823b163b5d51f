"""The virtual printer on a real TCP port, for other programs to print to::

    python -m drivers.printers.virtual --port 9100 --dir /tmp/labels [--paper-out] [--slow-ms 200] ...

It serves one connection at a time, like a Zebra print server: a second sender waits in the listen queue.
Each connection is read as a stream (answers go out as soon as a query is complete), and when the sender
half-closes, the server closes its side too, so "send, half-close, read to EOF" works as on a real printer.
Faults can be set at start (flags), from Python (:attr:`VirtualPrinterServer.engine`), or by any client
with an SGD line: ``! U1 setvar "sim.paper_out" "1"``. Jobs land in ``--dir`` as ``.zpl`` and ``.png``.

It listens on 127.0.0.1 unless told otherwise with ``--host``.
"""

import argparse
import logging
import signal
import socket
import struct
import sys
import threading
import time
from types import FrameType, TracebackType

from drivers.printers.sim import FAULT_NAMES, Faults, VirtualPrinterEngine

logger = logging.getLogger(__name__)

_ACCEPT_POLL_S = 0.1
_READ_SIZE = 65536


class VirtualPrinterServer:
    """A :class:`VirtualPrinterEngine` behind a listening TCP socket, served from one background thread."""

    def __init__(
        self,
        engine: VirtualPrinterEngine | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 9100,
        idle_timeout_s: float = 10.0,
    ) -> None:
        """Prepare the server; :meth:`start` binds and starts serving. ``port=0`` picks a free port.

        ``idle_timeout_s``: a connection silent this long is closed, as printers do, so a sender that forgot
        to close cannot block the port forever.
        """
        self.engine = engine or VirtualPrinterEngine()
        self._host = host
        self._port = port
        self._idle_timeout_s = idle_timeout_s
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: Connections served so far.
        self.connections = 0

    @property
    def port(self) -> int:
        """The port listened on (the real one when started with ``port=0``)."""
        if self._listener is None:
            return self._port
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """The printer URL to give :func:`open_printer`."""
        return f"tcp://{self._host}:{self.port}"

    def start(self) -> None:
        """Bind, listen and serve in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, self._port))
        listener.listen(8)
        listener.settimeout(_ACCEPT_POLL_S)
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"virtual-printer-{self.port}", daemon=True)
        self._thread.start()
        logger.info("virtual printer listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> "VirtualPrinterServer":
        """Start, for ``with VirtualPrinterServer(...) as server:``."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop."""
        self.stop()

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    logger.exception("virtual printer: accept failed")
                return
            self.connections += 1
            try:
                self._handle(conn, peer)
            except Exception:
                # One bad connection must not take the printer down for the next sender.
                logger.exception("virtual printer: connection from %s failed", peer)
            finally:
                conn.close()

    def _handle(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        link = self.engine.open_link()
        logger.debug("virtual printer: link %d from %s:%d", link.number, *peer)
        conn.settimeout(_ACCEPT_POLL_S)
        idle_until = time.monotonic() + self._idle_timeout_s
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(_READ_SIZE)
                except TimeoutError:
                    if time.monotonic() > idle_until:
                        logger.info("virtual printer: link %d idle, closing", link.number)
                        return
                    continue
                except OSError as err:
                    logger.info("virtual printer: link %d lost: %s", link.number, err)
                    return
                if not data:
                    return  # the sender half-closed: we are done too, and closing tells it so
                idle_until = time.monotonic() + self._idle_timeout_s
                output = link.feed(data)
                if output.replies and self._stop.wait(output.delay_s):
                    return
                for reply in output.replies:
                    conn.sendall(reply)
                if output.drop:
                    # SO_LINGER 0 makes close send a reset: the sender sees the link break, not a clean end.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    logger.info("virtual printer: link %d reset on purpose (fault)", link.number)
                    return
        finally:
            link.close()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drivers.printers.virtual", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="TCP port (default 9100)")
    parser.add_argument("--dir", help="write each job here as .zpl and .png")
    parser.add_argument("--no-png", action="store_true", help="do not render jobs to PNG")
    parser.add_argument("--odometer-start", type=int, default=0, help="label counter before the first label")
    parser.add_argument("--paper-out", action="store_true")
    parser.add_argument("--head-open", action="store_true")
    parser.add_argument("--paused", action="store_true")
    parser.add_argument("--paper-left", type=int, default=-1, help="labels left on the roll (-1: endless)")
    parser.add_argument("--quiet-on-error", action="store_true", help="no ~HS answer while paper out / head open")
    parser.add_argument("--no-answer", action="store_true", help="a hung printer: answer nothing, print nothing")
    parser.add_argument("--slow-ms", type=float, default=0.0, help="delay every answer and each label")
    parser.add_argument("--drop-mid-job", type=int, default=0, help="cut off the next N jobs halfway")
    parser.add_argument("--drop-after-print", type=int, default=0, help="reset the link after the next N jobs print")
    parser.add_argument("--print-ms", type=float, default=0.0, help="time to print one label")
    parser.add_argument("-v", "--verbose", action="store_true", help="log printer traffic")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the virtual printer until SIGINT or SIGTERM."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    faults = Faults(**{name: getattr(args, name) for name in FAULT_NAMES})
    engine = VirtualPrinterEngine(
        faults, directory=args.dir, render_png=not args.no_png, odometer_start=args.odometer_start
    )
    server = VirtualPrinterServer(engine, host=args.host, port=args.port)
    done = threading.Event()

    def _handle_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _handle_signal)
    signal.signal(signal.SIGTERM, _handle_signal)
    try:
        server.start()
    except OSError as err:
        print(f"cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    print(f"virtual printer on {server.url}" + (f", jobs in {args.dir}" if args.dir else ""), flush=True)
    done.wait()
    server.stop()
    print(f"stopped after {len(engine.jobs)} job(s), label counter {engine.odometer}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
