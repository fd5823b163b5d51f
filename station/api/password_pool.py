"""The login pool: where argon2 password checks run, off the database thread and with a bounded queue.

A password check costs about 0.1 s of CPU and 64 MB (argon2id's defaults). On the database thread it would
stall every bench scan queued behind it, and a handful of clients posting logins with random user names would
stall the bench for seconds. So a login reads the user's row on the database thread (cheap), checks the hash
here, and writes the session back on the database thread.

The pool is one process-wide worker (argon2 itself uses several lanes, and a station has two or four cores that
the scans need too) with room for `MAX_WAITING` checks behind it. A check that finds no room is refused at once
(`PoolBusy`; the API answers 429 with Retry-After) instead of waiting in a queue without end. The worker runs at
a lower CPU priority than the rest of the station (nice +10), so the scans go first even while argon2 runs.
"""

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = 1
MAX_WAITING = 4
THREAD_PREFIX = "login-verify"
NICE = 10  # added to the worker thread's nice value (lower priority)


def _yield_to_the_bench() -> None:
    # Linux schedules threads one by one: a niced worker (and argon2's lane threads, which inherit it) gets the
    # CPU only when the database thread and the event loop do not want it. Best effort: elsewhere, or when the
    # kernel refuses, the check simply runs at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class PoolBusy(Exception):
    """No room in the pool for another check: refuse the login, and try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("the login pool is busy")
        self.retry_after_s = retry_after_s


class PasswordPool:
    """At most `workers` checks at a time and `max_waiting` behind them; anything more is `PoolBusy`."""

    def __init__(self, workers: int = WORKERS, max_waiting: int = MAX_WAITING) -> None:
        self.capacity = workers + max_waiting
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=THREAD_PREFIX, initializer=_yield_to_the_bench
        )
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting

    @property
    def admitted(self) -> int:
        """Checks running or waiting now."""
        return self._admitted

    def reserve(self) -> "Reservation":
        """A place in the pool, or `PoolBusy` at once. Take it before any other work for the login (the row
        read on the database thread included), so a refused login costs nothing there."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise PoolBusy(retry_after_s=1)
            self._admitted += 1
        return Reservation(self)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def _submit(self, fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        future = self._executor.submit(fn, *args)
        # Given back when the check ends, not when the request does: a client that hangs up leaves its check
        # running, and it still counts against the bound.
        future.add_done_callback(lambda _f: self._release())
        return asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Stop the worker once the check in hand is done; waiting ones are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class Reservation:
    """A place held in a `PasswordPool`: use it for one `run`, inside `with` (unused, it is given back on exit)."""

    def __init__(self, pool: PasswordPool) -> None:
        self._pool = pool
        self._unused = True

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the pool's worker and return its result; the place is given back when it ends."""
        if not self._unused:
            raise RuntimeError("a reservation runs one check")
        self._unused = False
        return await self._pool._submit(fn, *args)

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._unused:
            self._unused = False
            self._pool._release()


_shared: PasswordPool | None = None
_shared_lock = threading.Lock()


def password_pool() -> PasswordPool:
    """The process's pool, made on first use: argon2's CPU and memory are the process's to share, whichever
    app or test asks."""
    global _shared  # noqa: PLW0603 - one pool per process, made lazily so an import starts no thread
    with _shared_lock:
        if _shared is None:
            _shared = PasswordPool()
        return _shared
