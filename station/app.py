"""The composition root: the one module that sees everything and wires real or simulated parts by config.

`Station` owns the store, the workflow, the database thread, the devices and the API application. `serve()`
runs it under uvicorn; SIGTERM/SIGINT shut it down gracefully — uvicorn stops taking requests and lets those
in flight finish, then the scanners are closed and the database thread finishes the transaction it is in.
"""

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import uvicorn
from fastapi import FastAPI

from drivers.scanners import RawScan, ScanSource, open_scanner
from station.api.context import ApiContext
from station.api.server import create_api
from station.config import Settings
from station.indicators import FanOutIndicator, LogIndicator
from station.metrics import StationMetrics
from station.store import Store
from station.workflow import BenchWorkflow
from station.workflow.outcome import ScanOutcome

logger = logging.getLogger(__name__)


def station_version() -> str:
    """The installed package version."""
    try:
        return version("packing-station")
    except PackageNotFoundError:
        return "0.0.0+unknown"


class Station:
    """A wired station. Create with `Station.build(settings)`; `start()`/`stop()` inside the event loop."""

    def __init__(self, settings: Settings, store: Store, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.store = store
        self.log_indicator = LogIndicator()
        self.indicator = FanOutIndicator([self.log_indicator])
        self.workflow = BenchWorkflow(
            store, settings.workflow, settings.scan, indicator=self.indicator, monotonic=monotonic
        )
        self.metrics = StationMetrics(store)
        # The one database thread: scans and API calls queue here in arrival order (DESIGN §3, one writer).
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-db")
        self.scanners: list[ScanSource] = []
        self._pending: set[asyncio.Future[Any]] = set()
        self.context = ApiContext(
            store=store,
            workflow=self.workflow,
            settings=settings,
            metrics=self.metrics,
            writer=self.writer,
            version=station_version(),
            cookie_secure=settings.api.cookie_secure,
        )
        self.context.health_parts["scanners"] = self._scanner_health
        self.api: FastAPI = create_api(self.context)
        self.api.router.lifespan_context = self._lifespan

    @classmethod
    def build(cls, settings: Settings, monotonic: Callable[[], float] = time.monotonic) -> "Station":
        """Open the database and wire the parts chosen by config (`monotonic` lets the demo script its time)."""
        settings.station.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.open(settings.station.database_path)
        if store.recovered is not None:
            logger.error("database was corrupt and has been moved to %s", store.recovered.moved_to)
        return cls(settings, store, monotonic)

    def _lifespan(self, _app: FastAPI) -> Any:
        station = self

        class _Lifespan:
            async def __aenter__(self) -> None:
                await station.start()

            async def __aexit__(self, *exc: object) -> None:
                await station.stop()

        return _Lifespan()

    async def start(self) -> None:
        """Open the scanners and start feeding their reads to the workflow."""
        for url in self.settings.devices.scanners:
            source = open_scanner(url)
            await source.start(self._handle_raw_scan)
            self.scanners.append(source)
            logger.info("scanner %s started (%s)", source.name, url)

    async def stop(self) -> None:
        """Close devices, let queued scans finish, close the database."""
        for source in self.scanners:
            try:
                await source.stop()
            except Exception:
                logger.exception("scanner %s did not stop cleanly", source.name)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self.writer.shutdown, True)
        self.store.close()
        logger.info("station stopped")

    def _handle_raw_scan(self, scan: RawScan) -> None:
        """Scanner sink (runs on the loop): queue the scan on the database thread, in arrival order."""
        future = asyncio.get_running_loop().run_in_executor(
            self.writer,
            self.workflow.handle_scan,
            self.settings.workflow.default_bench,
            scan.data,
            scan.device,
            scan.symbology,
        )
        self._pending.add(future)
        future.add_done_callback(self._scan_done)

    def _scan_done(self, future: "asyncio.Future[ScanOutcome]") -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("scan handling failed: %s", future.exception())

    def _scanner_health(self) -> dict[str, Any]:
        states = {s.name: s.connected for s in self.scanners}
        return {"ok": all(states.values()) if states else True, "connected": states}


def serve(settings: Settings, station: Station | None = None) -> None:
    """Run the station until SIGTERM/SIGINT."""
    station = station or Station.build(settings)
    config = uvicorn.Config(
        station.api,
        host=settings.api.host,
        port=settings.api.port,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=10,
        access_log=False,
    )
    logger.info("serving the API on http://%s:%s (docs at /docs)", settings.api.host, settings.api.port)
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully; exit 0 then, as systemd expects.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.Server(config).run()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)
