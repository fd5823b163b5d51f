"""ZPL over raw TCP (port 9100): one connection per exchange, half-closed after sending.

Each query or job opens a connection, sends everything, shuts down the sending side (``SHUT_WR``) so the
printer sees the end of the data, reads until the reply is complete, the printer closes (EOF), or the
timeout, and closes. Nothing is kept open between exchanges: a Zebra print server serves one 9100
connection at a time, and a connection the station forgot to close would block every other sender.

Reading the printer's side to EOF before closing matters: closing with unread bytes in our receive
buffer makes the kernel answer with a reset, and a reset can make the printer drop data it had not yet
processed.
"""

import logging
import socket
import time

from drivers.printers.errors import PrinterConnectError, PrinterTransferError
from drivers.printers.transport import ReplyComplete, log_in, log_out

logger = logging.getLogger(__name__)

_READ_SIZE = 4096


class TcpTransport:
    """A printer's raw TCP port (``tcp://host:9100``)."""

    def __init__(self, host: str, port: int = 9100, *, connect_timeout_s: float = 3.0, eof_timeout_s: float = 2.0):
        """Remember where the printer is; nothing is opened until the first exchange.

        ``eof_timeout_s`` bounds the wait for the printer to close its side after a job; printers that keep
        the connection open are not an error, the job counts as sent.
        """
        self._host = host
        self._port = port
        self._connect_timeout_s = connect_timeout_s
        self._eof_timeout_s = eof_timeout_s
        self.description = f"tcp://{host}:{port}"

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self._connect_timeout_s)
        except OSError as err:
            raise PrinterConnectError(f"{self.description}: cannot connect: {err}") from err
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _read(self, sock: socket.socket, complete: ReplyComplete | None, deadline: float) -> bytes:
        """Read until complete, EOF or the deadline; a reset propagates as the ``OSError`` it is."""
        reply = bytearray()
        while complete is None or not complete(bytes(reply)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(_READ_SIZE)
            except TimeoutError:
                break
            if not chunk:
                break
            log_in(self.description, chunk)
            reply += chunk
        return bytes(reply)

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        """Send a query on a fresh connection and read its reply (see :class:`Transport`)."""
        deadline = time.monotonic() + timeout_s
        sock = self._connect()
        try:
            log_out(self.description, request)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            return self._read(sock, complete, deadline)
        except OSError as err:
            # A query changes nothing on the printer, so a broken one is just an unanswered one.
            logger.debug("%s: query %r failed: %s", self.description, request, err)
            return b""
        finally:
            sock.close()

    def send(self, payload: bytes, timeout_s: float) -> None:
        """Send a job on a fresh connection, half-close, and read to EOF (see :class:`Transport`)."""
        sock = self._connect()
        sent = 0
        try:
            log_out(self.description, payload)
            deadline = time.monotonic() + timeout_s
            view = memoryview(payload)
            while sent < len(payload):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("send timed out")
                sock.settimeout(remaining)
                sent += sock.send(view[sent:])
            sock.shutdown(socket.SHUT_WR)
            leftover = self._read(sock, None, time.monotonic() + self._eof_timeout_s)
            if leftover:
                logger.info("%s: printer sent %d unexpected bytes after a job", self.description, len(leftover))
        except OSError as err:
            if sent == 0:
                raise PrinterConnectError(f"{self.description}: nothing could be sent: {err}") from err
            raise PrinterTransferError(
                f"{self.description}: link failed after {sent} of {len(payload)} bytes: {err}", bytes_sent=sent
            ) from err
        finally:
            sock.close()

    def close(self) -> None:
        """Nothing stays open between exchanges."""
