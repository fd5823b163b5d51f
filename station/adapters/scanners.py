"""The bench's scanners: opened from the configured URLs, fed to one sink, and reported for `/health`."""

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from drivers.scanners import RawScan, ScanSource, open_scanner
from drivers.urls import redact_url

logger = logging.getLogger(__name__)


class ScannerBank:
    """Every scanner of the station. Nothing is opened until `start`."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = tuple(urls)
        self.sources: list[ScanSource] = []

    def __iter__(self) -> Iterator[ScanSource]:
        return iter(self.sources)

    async def start(self, sink: Callable[[RawScan], None]) -> None:
        """Open each configured scanner and feed its reads to `sink` (called on the event loop)."""
        for url in self.urls:
            source = open_scanner(url)
            await source.start(sink)
            self.sources.append(source)
            logger.info("scanner %s started (%s)", source.name, redact_url(url))

    async def stop(self) -> None:
        """Close every scanner; one that fails to close is logged and the others still close."""
        for source in self.sources:
            try:
                await source.stop()
            except Exception:
                logger.exception("scanner %s did not stop cleanly", source.name)

    def connected(self) -> dict[str, bool]:
        """Scanner name → whether it is connected now."""
        return {source.name: source.connected for source in self.sources}

    def health(self) -> dict[str, Any]:
        """For `/health`: ok when every scanner is connected (or none is configured)."""
        states = self.connected()
        return {"ok": all(states.values()) if states else True, "connected": states}
