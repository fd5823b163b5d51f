"""The USB printer class device (``/dev/usb/lp0``, or a stable ``/dev/usb/by-id``-style udev link): a file
opened per exchange.

The device is opened read-write and non-blocking for each query or job and closed after it, so an unplugged
printer costs one failed ``open`` rather than a stale descriptor, and a replugged one is found again under
its udev name. Timeouts come from ``select``, never from a blocking ``read`` that could hang the printer
thread. A stream device has no per-exchange framing, so bytes left over from an earlier reply (a late
``~HS`` answer) are drained and logged before each query.
"""

import errno
import logging
import os
import select
import time

from drivers.printers.errors import PrinterConnectError, PrinterTransferError
from drivers.printers.transport import ReplyComplete, log_in, log_out

logger = logging.getLogger(__name__)

_READ_SIZE = 4096


class UsbTransport:
    """A printer class device node (``usb:///dev/usb/lp0``)."""

    def __init__(self, path: str) -> None:
        """Remember the device path; it is opened per exchange."""
        self._path = path
        self.description = f"usb://{path}"

    def _open(self) -> int:
        try:
            return os.open(self._path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        except PermissionError as err:
            raise PrinterConnectError(
                f"{self.description}: permission denied (is the station user in the 'lp' group?)"
            ) from err
        except OSError as err:
            raise PrinterConnectError(f"{self.description}: cannot open: {err.strerror}") from err

    def _close(self, fd: int) -> None:
        try:
            os.close(fd)
        except OSError as err:
            # The exchange already succeeded or failed on its own terms; a close error (EIO after an
            # unplug) adds nothing the next open will not say.
            logger.debug("%s: close failed: %s", self.description, err)

    def _drain(self, fd: int) -> None:
        stale = bytearray()
        while select.select([fd], [], [], 0)[0]:
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                break
            stale += chunk
        if stale:
            logger.debug("%s: dropped %d stale bytes before a query", self.description, len(stale))
            log_in(self.description, bytes(stale))

    def _write(self, fd: int, payload: bytes, deadline: float) -> tuple[int, OSError | None]:
        """Write everything before the deadline; returns the count written and the error that stopped it."""
        written = 0
        try:
            while written < len(payload):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(errno.ETIMEDOUT, "write timed out")
                if not select.select([], [fd], [], remaining)[1]:
                    continue
                try:
                    written += os.write(fd, payload[written:])
                except BlockingIOError:
                    continue
        except OSError as err:
            return written, err
        return written, None

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        """Open the device, send a query and read its reply (see :class:`Transport`)."""
        deadline = time.monotonic() + timeout_s
        fd = self._open()
        reply = bytearray()
        try:
            self._drain(fd)
            log_out(self.description, request)
            _, error = self._write(fd, request, deadline)
            if error is not None:
                raise error
            while not complete(bytes(reply)):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    break
                try:
                    chunk = os.read(fd, _READ_SIZE)
                except BlockingIOError:
                    continue
                if not chunk:
                    # A printer without a back channel reads as EOF; wait for data until the deadline.
                    time.sleep(min(0.02, max(deadline - time.monotonic(), 0)))
                    continue
                log_in(self.description, chunk)
                reply += chunk
        except OSError as err:
            logger.debug("%s: query %r failed: %s", self.description, request, err)
        finally:
            self._close(fd)
        return bytes(reply)

    def send(self, payload: bytes, timeout_s: float) -> None:
        """Open the device and write a whole job (see :class:`Transport`)."""
        fd = self._open()
        try:
            log_out(self.description, payload)
            written, error = self._write(fd, payload, time.monotonic() + timeout_s)
        finally:
            self._close(fd)
        if error is None:
            return
        if written == 0:
            raise PrinterConnectError(f"{self.description}: nothing could be written: {error}") from error
        raise PrinterTransferError(
            f"{self.description}: write failed after {written} of {len(payload)} bytes: {error}",
            bytes_sent=written,
        ) from error

    def close(self) -> None:
        """Nothing stays open between exchanges."""
