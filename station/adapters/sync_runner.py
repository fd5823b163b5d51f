"""Runs the sync agent on its own thread and event loop.

The agent reads the outbox and records acknowledgements and hub commands in SQLite, synchronously; an fsync'd
commit per acknowledgement must not stall the event loop that serves PDAs and bench screens. Its own loop
keeps that work apart; the store's lock serialises it with the database thread.
"""

import asyncio
import logging
import threading
from typing import Any

from cloud_sync.agent import SyncAgent
from drivers.urls import redact_text

logger = logging.getLogger(__name__)


class SyncRunner:
    """Owns the thread and loop the agent runs on."""

    def __init__(self, agent: SyncAgent) -> None:
        self.agent = agent
        self._loop: asyncio.AbstractEventLoop | None = None  # made in start(): a station never started owns none
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> None:
        """Start the thread and the agent on it (returns once the agent runs)."""
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cloud-sync", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.call_soon(self._begin)
        loop.run_forever()
        loop.close()

    def _begin(self) -> None:
        self.agent.start()
        self._started.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the agent (it publishes its offline status) and the thread. Blocking: call from an executor."""
        if self._thread is None or self._loop is None or not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.agent.stop(timeout_s=timeout_s / 2), self._loop).result(timeout_s)
        except Exception:
            logger.exception("the sync agent did not stop cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)

    def health(self) -> dict[str, Any]:
        """The agent's health, read on its own loop (so it never sees a half-updated state), with `ok`.

        Sync switched off is fine (events wait in the outbox); configured but not connected is degraded. URLs in
        it are redacted.
        """
        if self._thread is None or self._loop is None or not self._thread.is_alive():
            health = dict(self.agent.health())
        else:
            health = dict(asyncio.run_coroutine_threadsafe(self._health(), self._loop).result(5))
        for key in ("broker", "last_error"):
            # A bench token reads /health: a broker written as a URL, or an error quoting one, shows redacted.
            if isinstance(health.get(key), str):
                health[key] = redact_text(health[key])
        return {"ok": not health["enabled"] or bool(health["broker_connected"]), **health}

    async def _health(self) -> dict[str, Any]:
        return dict(self.agent.health())
