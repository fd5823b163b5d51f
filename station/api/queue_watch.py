"""Long-polls: `ChangeSignal` wakes requests waiting for a change (the bench screen waits on every commit), and
`QueueWatch` serves `/queue/top` cheaply to many polling PDAs: a per-PDA cache of the top order, invalidated by
commits, and a wake-up when the queue may have changed.

The store calls `notify` after every commit (on the database thread); the bump happens on the event loop.
A cached top also expires on its own when a claim lease ends or the top's SLA colour changes — the two ways
the answer changes without a commit.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from station.events import Envelope

T = TypeVar("T")

MAX_WAIT_S = 60  # the longest `?wait=` a long-poll may ask for
RECHECK_S = 5.0  # a long-poll re-checks its answer this often even without a change (sync state, missed wake-ups)

_RELEVANT_PREFIXES = ("order.", "priority.", "queue.")


class ChangeSignal:
    """A generation counter that any thread may bump, with an asyncio wake-up for long-polls."""

    def __init__(self, *, only_while_watched: bool = False) -> None:
        """`only_while_watched`: a bump with no long-poll in progress is dropped instead of waking the event loop.
        Safe when every answer is computed on the thread that bumps (the database thread), after the change."""
        self.generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._only_while_watched = only_while_watched
        self._long_polls = 0  # in progress, on the event loop
        self._closed = False  # shutting down: long-polls answer at once

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the serving event loop (called at start-up)."""
        self._loop = loop
        self._changed = asyncio.Event()

    def bump(self) -> None:
        """Something changed (callable from any thread: the bump itself happens on the event loop)."""
        loop = self._loop
        if loop is None:
            self._bump()
        elif self._only_while_watched and not self._long_polls:
            return  # nobody waits: a long-poll that starts later computes its answer after this change
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._bump)

    def _bump(self) -> None:
        self.generation += 1
        self._bumped()
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _bumped(self) -> None:
        """Hook for subclasses, on the event loop."""

    def close(self) -> None:
        """The server is shutting down (call on the event loop): every long-poll answers now, and none waits
        again. Without this, uvicorn's graceful shutdown would wait for each one's `?wait=`."""
        self._closed = True
        if self._changed is not None:
            self._changed.set()  # wakes the waiters; `until_changed` then returns instead of waiting again

    async def until_changed(
        self, wait_s: float, known_etag: str | None, answer: Callable[[], Awaitable[tuple[str, T]]]
    ) -> tuple[str, T]:
        """`answer()` as (ETag, value); while its ETag is still `known_etag`, wait for a change and ask again,
        for up to `wait_s` seconds (a long-poll)."""
        give_up = time.monotonic() + wait_s
        self._long_polls += 1
        try:
            while True:
                generation = self.generation
                etag, value = await answer()
                remaining = give_up - time.monotonic()
                if known_etag != etag or remaining <= 0 or self._closed:
                    return etag, value
                await self.wait_for_change(min(remaining, RECHECK_S), generation)
        finally:
            self._long_polls -= 1

    async def wait_for_change(self, timeout_s: float, seen_generation: int | None = None) -> None:
        """Return when a change came, or after `timeout_s`.

        `seen_generation` is the generation the caller's answer was computed at: a change that landed while
        that answer was being computed (before this wait began) returns at once instead of being missed.
        """
        if seen_generation is not None and seen_generation != self.generation:
            return
        if self._changed is None or timeout_s <= 0:
            await asyncio.sleep(max(0.0, timeout_s))
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return


class QueueWatch(ChangeSignal):
    """Generation counter of the queue, with an asyncio wake-up and a per-PDA cache."""

    def __init__(self, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        super().__init__()
        self._clock_ms = clock_ms
        self._cache: dict[str, tuple[int, int, dict[str, Any] | None]] = {}

    def notify(self, events: list[Envelope]) -> None:
        """Store subscriber (any thread): a commit that touched orders, priorities or claims bumps the queue."""
        if any(str(e["type"]).startswith(_RELEVANT_PREFIXES) for e in events):
            self.bump()

    def _bumped(self) -> None:
        self._cache.clear()

    def cached(self, pda: str) -> tuple[bool, dict[str, Any] | None]:
        """(hit, row) for this PDA's top at the current generation."""
        hit = self._cache.get(pda)
        if hit is None or hit[0] != self.generation or self._clock_ms() >= hit[1]:
            return False, None
        return True, hit[2]

    def store(self, pda: str, generation: int, row: dict[str, Any] | None, valid_until_ms: int) -> None:
        """Remember a computed top (only if nothing changed while it was computed)."""
        if generation == self.generation:
            self._cache[pda] = (generation, valid_until_ms, row)
