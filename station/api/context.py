"""What the HTTP layer needs from the rest of the station, handed over by the composition root."""

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from station.alerts.monitor import AlertMonitor
from station.api.queue_watch import ChangeSignal, QueueWatch
from station.auth import Principal, RevocationMark
from station.config import Settings
from station.metrics import StationMetrics
from station.printing import PrintWorker
from station.store import Store
from station.video import VideoService
from station.workflow import BenchWorkflow

T = TypeVar("T")


class HealthSource(Protocol):
    """A part of the station that reports its own health for `/health` (a dict with `ok` when it can fail)."""

    def health(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot; must not block on devices (the part's last word)."""
        ...


@dataclass
class ApiContext:
    """The station as the API sees it. All database work runs on `writer`, the one database thread."""

    store: Store
    workflow: BenchWorkflow
    settings: Settings
    metrics: StationMetrics
    writer: ThreadPoolExecutor
    alerts: AlertMonitor
    queue_watch: QueueWatch
    bench_watch: ChangeSignal = field(default_factory=ChangeSignal)  # bumped by every commit
    printing: PrintWorker | None = None  # None: no label printer configured
    video: VideoService | None = None  # None: no camera configured
    version: str = "0.0.0"
    health_parts: dict[str, HealthSource] = field(default_factory=dict)  # see `register_health`
    cookie_secure: bool = False  # `[api] cookie_secure`; always True when the station serves HTTPS itself
    token_cache: dict[str, tuple[Principal, float, RevocationMark]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Over the station's own HTTPS a cookie without Secure would still be sent by the browser to a plain-HTTP
        # address of the same host (an attacker on the LAN need only redirect one request there).
        if self.settings.api.https:
            self.cookie_secure = True

    def register_health(self, name: str, source: HealthSource) -> None:
        """Show `source`'s health as `parts[name]` of `/health`; one that is not ok makes the station degraded."""
        self.health_parts[name] = source

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store work on the database thread, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, partial(fn, *args, **kwargs))
