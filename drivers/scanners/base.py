"""The common scan type and the interface every scanner implementation offers.

A scan source is a file descriptor (or a timer, for the simulator) on the running asyncio loop: ``start``
registers it and returns at once, and each complete code is handed to a synchronous sink from the loop.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

#: Raw device traffic (key events, serial bytes, simulator feeds) at debug level, so a site can route it to
#: its own rotating file without the main log drowning in keystrokes.
wire_logger = logging.getLogger("drivers.scanners.wire")


@dataclass(frozen=True, slots=True)
class RawScan:
    """One code as a scanner delivered it, before any interpretation."""

    data: bytes  # the code as read, framing removed, including any AIM prefix (the core strips AIM)
    device: str  # stable device name (by-id name or configured name)
    symbology: str | None  # only when the transport reports it separately; else None
    at_wall: float  # time.time() at the end-of-code key/frame
    at_monotonic: float


#: Where a source hands its scans. Called on the loop; it must not block.
ScanSink = Callable[[RawScan], None]


class ScanSource(Protocol):
    """A scanner (or a set of identical ones) seen as a stream of :class:`RawScan`."""

    name: str

    @property
    def connected(self) -> bool:
        """True while at least one device of this source is open and being read."""
        ...

    async def start(self, sink: ScanSink) -> None:
        """Register the source's file descriptors on the running loop and return.

        A device that is absent at start is not an error: the source reports ``connected = False`` and keeps
        looking for it.
        """
        ...

    async def stop(self) -> None:
        """Unregister everything, release the devices and stop all timers. Safe to call twice."""
        ...


def make_scan(data: bytes, device: str, symbology: str | None = None) -> RawScan:
    """Stamp ``data`` with the current wall and monotonic time (the end-of-code moment)."""
    return RawScan(
        data=data,
        device=device,
        symbology=symbology,
        at_wall=time.time(),
        at_monotonic=time.monotonic(),
    )


def deliver(sink: ScanSink, scan: RawScan) -> None:
    """Hand ``scan`` to ``sink``; a failing sink is logged and never stops the reader that called it."""
    try:
        sink(scan)
    except Exception:
        # The reader is an fd callback on the shared loop: an exception here would only reach the loop's
        # default handler and lose the rest of the batch, so it is logged with the scan that caused it.
        logger.exception("scan sink failed on %r from %s", scan.data, scan.device)
