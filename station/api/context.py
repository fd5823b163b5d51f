"""What the HTTP layer needs from the rest of the station, handed over by the composition root."""

import asyncio
import time
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


class LoginLimiter:
    """Failed supervisor logins per (username, client): after `max_failures` within `window_s`, refuse."""

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}

    def retry_after_s(self, username: str, client: str) -> int:
        """Seconds to wait before another attempt is allowed (0 = allowed now)."""
        now = self._clock()
        recent = [t for t in self._failures.get((username.lower(), client), []) if now - t < self.window_s]
        self._failures[(username.lower(), client)] = recent
        if len(recent) < self.max_failures:
            return 0
        return int(self.window_s - (now - recent[0])) + 1

    def failed(self, username: str, client: str) -> None:
        """Record a failed attempt."""
        self._failures.setdefault((username.lower(), client), []).append(self._clock())

    def succeeded(self, username: str, client: str) -> None:
        """Forget failures after a good login."""
        self._failures.pop((username.lower(), client), None)


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
    login_limiter: LoginLimiter = field(default_factory=LoginLimiter)
    cookie_secure: bool = False
    token_cache: dict[str, tuple[Principal, float, RevocationMark]] = field(default_factory=dict)

    def register_health(self, name: str, source: HealthSource) -> None:
        """Show `source`'s health as `parts[name]` of `/health`; one that is not ok makes the station degraded."""
        self.health_parts[name] = source

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store work on the database thread, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, partial(fn, *args, **kwargs))
