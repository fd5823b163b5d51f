"""The one thing every printer link does: send bytes, and read a reply until it is complete or time runs out.

A :class:`Transport` is blocking; the station calls it from its printer thread, never from the event loop.
Each call is one exchange on a link that is free again when it returns, so a printer only ever sees one
conversation at a time. Raw traffic goes to the ``drivers.printers.wire`` logger at debug level.
"""

import logging
from collections.abc import Callable
from typing import Protocol

wire_logger = logging.getLogger("drivers.printers.wire")

#: Tells whether the bytes read so far are a whole reply.
ReplyComplete = Callable[[bytes], bool]


class Transport(Protocol):
    """A link to one printer (TCP 9100, USB printer class device, serial port, or the simulator)."""

    #: Where the link goes, for logs and messages (``tcp://10.0.0.5:9100``).
    description: str

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        """Send ``request`` and return the reply read until ``complete(reply)`` or ``timeout_s``.

        A silent or slow printer is not an error: the bytes read so far (maybe none) are returned and the
        caller decides. Raises :class:`PrinterConnectError` when the printer cannot be reached at all.
        """
        ...

    def send(self, payload: bytes, timeout_s: float) -> None:
        """Send a print job and let the printer finish reading it.

        Raises :class:`PrinterConnectError` if nothing was sent, :class:`PrinterTransferError` if the link
        failed after sending began (the printer may hold part or all of the job).
        """
        ...

    def close(self) -> None:
        """Release the link (a persistent serial port); later calls reopen it."""
        ...


def log_out(description: str, data: bytes) -> None:
    """Log bytes sent to a printer on the wire logger."""
    wire_logger.debug("%s <- %r", description, data)


def log_in(description: str, data: bytes) -> None:
    """Log bytes received from a printer on the wire logger."""
    if data:
        wire_logger.debug("%s -> %r", description, data)
