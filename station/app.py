"""The composition root: the one module that sees everything and wires real or simulated parts by config.

`Station` owns the store, the workflow, the database thread, the devices and the API application. `serve()`
runs it under uvicorn; SIGTERM/SIGINT shut it down gracefully and quickly — uvicorn stops taking requests, the
long-polls (bench screens, PDAs) answer at once, the requests in flight get `SHUTDOWN_GRACE_S` to finish, then
the scanners are closed and the database thread finishes the transaction it is in.
"""

import asyncio
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from cloud_sync.agent import SyncAgent
from drivers import printers
from drivers.scanners import RawScan
from firmware_bridge import BenchController
from station.adapters.bench_io import BenchIo
from station.adapters.hub_commands import StationCommands, apply_stored_config
from station.adapters.scanners import ScannerBank
from station.adapters.sync_runner import SyncRunner
from station.alerts.ledger import raise_alert
from station.alerts.monitor import AlertMonitor
from station.api.context import ApiContext
from station.api.queue_watch import ChangeSignal, QueueWatch
from station.api.server import create_api, listen
from station.api.tls import ServerTls, load_tls, log_certificate
from station.config import Settings
from station.devices.indicators import FanOutIndicator, LogIndicator
from station.events import SYSTEM, Actor
from station.metrics import StationMetrics
from station.printing import PrintWorker, reprint_in
from station.priority.prioritizer import reevaluate_open_orders
from station.store import Store
from station.video import VideoService
from station.video.key_file import recorded_fingerprint
from station.workflow import BenchDevices, BenchWorkflow

if TYPE_CHECKING:
    from station.adapters.camera import CameraBackend

logger = logging.getLogger(__name__)

# How long uvicorn lets requests still in flight finish after SIGTERM. Long-polls are woken at once, so this only
# bounds a slow download; the whole stop stays well inside systemd's TimeoutStopSec.
SHUTDOWN_GRACE_S = 1


def station_version() -> str:
    """The installed package version."""
    try:
        return version("packing-station")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def _alert_missing_events(store: Store) -> None:
    """Newest events deleted since the head was recorded (or the hub acked them): raise `events_missing`."""
    problems = store.head_problems()
    if not problems:
        return
    for problem in problems:
        logger.error("events missing at the end of the event log: %s", problem)
    with store.transaction() as tx:
        raise_alert(tx, "events_missing", "", SYSTEM, detail="; ".join(problems)[:500])


class Station:
    """A wired station. Create with `Station.build(settings)`; await `start()`/`stop()` on the serving asyncio
    loop (uvicorn's, through the API lifespan); the work itself runs on the database, sync, printer and camera
    threads."""

    def __init__(self, settings: Settings, store: Store, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.store = store
        bench = settings.workflow.default_bench
        for key in apply_stored_config(store, settings):
            logger.info("configuration %s as last set by the hub", key)
        _alert_missing_events(store)
        # The one database thread: scans and API calls queue here in arrival order (the single writer:
        # docs/architecture.md, "Runtime shape").
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-db")
        self.scanners = ScannerBank(settings.devices.scanners)
        self._pending: set[asyncio.Future[Any]] = set()
        self.log_indicator = LogIndicator()
        self.indicator = FanOutIndicator([self.log_indicator])
        self.bench_io = self._wire_controller(settings, bench)
        scale = self.bench_io if self.bench_io is not None and settings.devices.scale == "controller" else None
        self.devices = BenchDevices(scale=scale)
        self.printing = self._wire_printer(settings)
        if self.printing is not None:
            self.devices.printer = self.printing.confirmation  # the `labeled` guard asks the print queue
            printer_name = self.printing.name
            self.devices.reprint = lambda tx, order_id, actor, reason: (
                reprint_in(tx, order_id, actor, reason, printer=printer_name).refusal
            )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._later: set[asyncio.TimerHandle] = set()
        self._retention_due = 0.0
        self._broker_down_since: float | None = None
        self.camera: CameraBackend | None = None
        self.video: VideoService | None = None
        if settings.devices.camera:
            self._wire_camera(settings, settings.devices.camera)
        self.workflow = BenchWorkflow(
            store,
            settings.workflow,
            settings.scan,
            indicator=self.indicator,
            devices=self._bench_devices,
            monotonic=monotonic,
        )
        self.metrics = StationMetrics(store)
        self.alerts = AlertMonitor(store, settings.priority, self.indicator, bench)
        self.queue_watch = QueueWatch(store.wall_ms)
        store.subscribe(self.queue_watch.notify)
        # Every commit may change a bench screen (every scan commits an event); the screen is read on the database
        # thread, so a commit with no screen waiting need not wake the event loop.
        self.bench_watch = ChangeSignal(only_while_watched=True)
        store.subscribe(lambda _events: self.bench_watch.bump())
        self.commands = StationCommands(
            store,
            settings,
            on_config=self._config_changed,
            request_clip=self.video.request_clip if self.video is not None else None,
        )
        self.sync = SyncAgent(
            settings.sync,
            store,
            self.commands,
            site=settings.station.site,
            station_id=settings.station.station_id,
            boot_id=store.boot_id,
            versions={"station": station_version()},
            evidence_key=recorded_fingerprint(settings.station.data_dir),
        )
        store.subscribe(self.sync.notify)
        self.sync_runner = SyncRunner(self.sync)  # its own thread: ack commits never stall the API loop
        self._housekeeping: asyncio.Task[None] | None = None
        self._users = 0  # lifespans sharing this station (a test client and schemathesis may nest)
        self.context = ApiContext(
            store=store,
            workflow=self.workflow,
            settings=settings,
            metrics=self.metrics,
            writer=self.writer,
            alerts=self.alerts,
            printing=self.printing,
            video=self.video,
            queue_watch=self.queue_watch,
            bench_watch=self.bench_watch,
            version=station_version(),
            cookie_secure=settings.api.cookie_secure,
        )
        self.context.register_health("scanners", self.scanners)
        self.context.register_health("sync", self.sync_runner)
        if self.printing is not None:
            self.context.register_health("printer", self.printing)
        if self.camera is not None:
            self.context.register_health("camera", self.camera)
        self.api: FastAPI = create_api(self.context)
        self.api.router.lifespan_context = self._lifespan

    def _wire_controller(self, settings: Settings, bench: str) -> BenchIo | None:
        url = settings.devices.controller
        if not url:
            return None
        controller = BenchController(
            url, scale_settle_ms=settings.devices.scale_settle_ms, scale_band_g=settings.devices.scale_band_g
        )
        bench_io = BenchIo(
            controller,
            bench,
            pedal_command=settings.devices.pedal_command,
            on_pedal=lambda bench_id, code: self._queue_scan(bench_id, code.encode(), "pedal", None),
            on_device_state=self._report_device,
        )
        self.indicator.indicators.append(bench_io)
        return bench_io

    def _wire_printer(self, settings: Settings) -> PrintWorker | None:
        url = settings.devices.printer
        if not url:
            return None
        return PrintWorker(
            self.store,
            settings.printing,
            printers.open_printer(url),
            printers,  # the module is the renderer (station.printing.ports.LabelRendering)
            # Printer up/down goes to the one alert monitor, on the database thread (never blocks the printer's).
            device_state=lambda device, up, detail: self.writer.submit(self.alerts.device_state, device, up, detail),
        )

    def _wire_camera(self, settings: Settings, url: str) -> None:
        """Record the bench camera under `<data_dir>/video`; index segments, follow orders, take photos."""
        # lazy: OpenCV and PyAV cost ~30 MB of RSS, which a station without a camera keeps
        from station.adapters.camera import CameraBackend  # noqa: PLC0415

        data_dir = settings.station.data_dir
        self.camera = CameraBackend(
            url,
            data_dir / "video",
            settings.video,
            on_segment=lambda info: self._on_segment(info.path, info),
            # Camera up/down goes to the alert monitor on the database thread (never blocks the recorder's).
            on_state=lambda up, detail: self._submit_db(self.alerts.device_state, "camera", up, detail),
            name=settings.workflow.default_bench,
        )
        self.video = VideoService(
            self.store, settings.video, data_dir, self.camera, db=self._submit_db, schedule=self._schedule
        )
        self.store.subscribe(self.video.notify)
        if self.printing is not None:
            self.video.label_image = self.printing.printed_label_png  # the label as printed, in the bundle
        if settings.video.require_photo:
            self.devices.camera = self.video  # the `packed` guard then asks for a packing photo

    def _on_segment(self, path: Any, info: Any) -> None:
        """Recorder thread: hand the closed segment to the database thread."""
        if self.video is not None:
            self.video.segment_closed(path, info.start_wall_ms, info.end_wall_ms, info.frames, info.bytes, info.sha256)

    def _submit_db(self, fn: Callable[..., Any], *args: Any) -> "Future[Any]":
        return self.writer.submit(fn, *args)

    def _schedule(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Any thread: run `fn` in the default executor after `delay_s` (clip assembly, off the loop)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def arm() -> None:
            def fire() -> None:
                self._later.discard(handle)
                self._track(loop.run_in_executor(None, fn))

            handle = loop.call_later(delay_s, fire)
            self._later.add(handle)

        loop.call_soon_threadsafe(arm)

    def _bench_devices(self, bench_id: str) -> BenchDevices | None:
        """The station's devices are its default bench's. Another bench has none: fine while no guard needs a
        device, refused (None) once a camera, a scale or a printer is configured, so that no bench id packs
        without the evidence the default bench must give."""
        if bench_id == self.settings.workflow.default_bench:
            return self.devices
        devices = self.settings.devices
        guarded = devices.camera is not None or devices.printer is not None or devices.scale is not None
        return None if guarded else BenchDevices()

    def _report_device(self, device: str, up: bool, detail: str) -> None:
        """Device adapters report on the loop; the alert is written on the database thread."""
        future = asyncio.get_running_loop().run_in_executor(self.writer, self.alerts.device_state, device, up, detail)
        self._track(future)

    @classmethod
    def build(
        cls, settings: Settings, monotonic: Callable[[], float] = time.monotonic, *, recover_empty_db: bool = False
    ) -> "Station":
        """Open the database and wire the parts chosen by config (`monotonic` lets the demo script its time).

        An empty database file is refused (`EmptyDatabaseError`) unless `recover_empty_db` moves it aside.
        """
        # makes the data directory, or says why it cannot
        store = Store.open(settings.station.database_path, recover_empty=recover_empty_db)
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
        """Open the scanners, start feeding their reads to the workflow, start the housekeeping timer."""
        self._users += 1
        if self._users > 1:
            return
        self._loop = asyncio.get_running_loop()
        self.queue_watch.bind(self._loop)
        self.bench_watch.bind(self._loop)
        if self.camera is not None:
            await self._loop.run_in_executor(None, self.camera.start)
        self._housekeeping = asyncio.create_task(self._housekeep(), name="housekeeping")
        if self.bench_io is not None:
            await self.bench_io.start()
        self.sync_runner.start()
        if self.printing is not None:
            self.printing.start()
        await self.scanners.start(self._handle_raw_scan)

    def wake_long_polls(self) -> None:
        """Shutting down (on the loop): every long-poll answers now instead of holding the shutdown up to its
        `?wait=` (a bench screen waits 25 s)."""
        self.bench_watch.close()
        self.queue_watch.close()

    async def stop(self) -> None:
        """Close devices, let queued scans finish, close the database."""
        self._users -= 1
        if self._users > 0:
            return
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self.sync_runner.stop)
        if self.bench_io is not None:
            await self.bench_io.stop()
        await self.scanners.stop()
        for handle in self._later:
            handle.cancel()  # clips not yet due are made on demand later
        self._later.clear()
        if self.camera is not None:
            # Flushes the open segment; its index row is queued on the database thread before it shuts down.
            await asyncio.get_running_loop().run_in_executor(None, self.camera.stop)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.printing is not None:
            # Lets the job in hand finish (a job cut off stays `sending` and is settled by the counter at start).
            await asyncio.get_running_loop().run_in_executor(None, self.printing.stop)
        await asyncio.get_running_loop().run_in_executor(None, self.writer.shutdown, True)
        self.store.anchor_head()  # the head reached, recorded apart from the database (`station.store.anchor`)
        self.store.close()
        logger.info("station stopped")

    def _handle_raw_scan(self, scan: RawScan) -> None:
        """Scanner sink (runs on the loop)."""
        self._queue_scan(self.settings.workflow.default_bench, scan.data, scan.device, scan.symbology)

    def _queue_scan(self, bench_id: str, data: bytes, device: str, symbology: str | None) -> None:
        """Queue a scan on the database thread, in arrival order (call on the loop)."""
        future = asyncio.get_running_loop().run_in_executor(
            self.writer, self.workflow.handle_scan, bench_id, data, device, symbology
        )
        self._track(future)

    def _track(self, future: "asyncio.Future[Any]") -> None:
        self._pending.add(future)
        future.add_done_callback(self._scan_done)

    def _scan_done(self, future: "asyncio.Future[Any]") -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("queued work failed: %s", future.exception())

    async def _housekeep(self) -> None:
        """Every `alert_tick_s`: log out idle packers and evaluate the alert conditions."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.priority.alert_tick_s)
            jobs = (
                self.workflow.tick,
                self.alerts.tick,
                self._report_scanners,
                self._report_broker,
                self.store.anchor_head,
            )
            for job in jobs:
                try:
                    await loop.run_in_executor(self.writer, job)
                except Exception:
                    logger.exception("housekeeping step %s failed", getattr(job, "__qualname__", job))
            # Checkpoint the WAL here, on its own connection, so that it never lands inside a scan's COMMIT.
            await loop.run_in_executor(None, self.store.checkpoint)
            if self.video is not None and time.monotonic() >= self._retention_due:
                self._retention_due = time.monotonic() + self.settings.video.retention.every_s
                try:
                    # Deleting files is slow I/O: the default executor; index rows go to the database thread.
                    await loop.run_in_executor(None, self.video.run_retention)
                except Exception:
                    logger.exception("video retention failed")

    def _report_scanners(self) -> None:
        for name, connected in self.scanners.connected().items():
            self.alerts.device_state(f"scanner:{name}", connected)

    def _report_broker(self) -> None:
        """The broker counts as down once a configured one has been unreachable for `broker_down_after_s`: a
        reconnect after a blip is normal, an outage that lasts is worth a supervisor's look (events wait)."""
        health = self.sync_runner.health()
        if not health["enabled"] or health["broker_connected"]:
            self._broker_down_since = None
            self.alerts.device_state("broker", True)
            return
        now = time.monotonic()
        if self._broker_down_since is None:
            self._broker_down_since = now
        if now - self._broker_down_since >= self.settings.priority.broker_down_after_s:
            self.alerts.device_state("broker", False, str(health.get("last_error") or "not connected"))

    def _config_changed(self, section: str, model: Any) -> None:
        """The hub changed a section (`config.set`): point the parts that hold it at the new values."""
        if section == "workflow":
            self.workflow.settings = model
        elif section == "scan":
            self.workflow.rules = model
        elif section == "priority":
            self.alerts.settings = model
            changed = reevaluate_open_orders(self.store, model, Actor(role="hub", id="config.set"))
            logger.info("priority rules changed by the hub: %s orders re-evaluated", changed)


def serve(
    settings: Settings,
    station: Station | None = None,
    listeners: list[socket.socket] | None = None,
    *,
    recover_empty_db: bool = False,
    tls: ServerTls | None = None,
) -> None:
    """Run the station until SIGTERM/SIGINT, on `listeners` (from `listen`) or on the configured address.

    The address is claimed before the station is built, so a port that is taken raises `ListenError` before the
    database or any device is opened. The caller holds the data directory (`exclusive_data_dir`). With
    `[api] tls_cert` and `tls_key`, HTTPS is served: `tls` is them as `load_tls` checked them (`station run`
    does so before anything starts); without it they are checked here, first (`TlsError`).
    """
    tls = tls or load_tls(settings.api)
    listeners = listen(settings.api.host, settings.api.port) if listeners is None else listeners
    try:
        _serve_on(settings, station or Station.build(settings, recover_empty_db=recover_empty_db), listeners, tls)
    finally:
        for sock in listeners:  # uvicorn closes them when it shuts down; this covers a failure before it starts
            sock.close()


def _serve_on(
    settings: Settings, station: Station, listeners: list[socket.socket], tls: ServerTls | None = None
) -> None:
    """Hand the station's API and the listening sockets to uvicorn (HTTPS on them with `tls`); return after a
    graceful shutdown."""
    config = uvicorn.Config(
        station.api,
        host=settings.api.host,
        port=settings.api.port,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        access_log=False,
        # uvicorn would trust X-Forwarded-For from loopback and rewrite the client address: only the configured
        # reverse proxies may say who the client is (`[api] trusted_proxies`, station/api/client_address.py).
        proxy_headers=bool(settings.api.trusted_proxies),
        forwarded_allow_ips=[str(p) for p in settings.api.trusted_proxies] or None,
        # Our context (checked at start, TLS 1.2 pinned rather than left to the defaults); uvicorn wraps every
        # claimed socket with it (`loop.create_server(sock=..., ssl=config.ssl)`).
        ssl_context_factory=(lambda _config, _default: tls.context) if tls is not None else None,
    )
    scheme = "https" if tls is not None else "http"
    logger.info("serving the API on %s://%s:%s (docs at /docs)", scheme, settings.api.host, settings.api.port)
    if tls is not None:
        log_certificate(tls)
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully; exit 0 then, as systemd expects.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    _StationServer(config, station).run(sockets=listeners)


class _StationServer(uvicorn.Server):
    """uvicorn's server, which wakes the station's long-polls as its shutdown begins: uvicorn waits for every
    request in flight, and a long-poll would otherwise hold it until `SHUTDOWN_GRACE_S` cuts it off with a 500."""

    def __init__(self, config: uvicorn.Config, station: Station) -> None:
        super().__init__(config)
        self._station = station

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Wake the long-polls, then uvicorn's own shutdown (which waits for them to answer)."""
        self._station.wake_long_polls()
        await super().shutdown(sockets)


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)
