"""How often anyone may try to log in: a global rate, a rate per client address, and a lockout per user and client.

Three limits, checked in this order before any password is looked at:

1. **Lockout per (user, client).** After `MAX_FAILURES` wrong passwords for one user from one client address
   within `FAILURE_WINDOW_S`, that pair is refused until the oldest of them is that old. It decays on its own,
   and it is per client: an attacker elsewhere locks out only themselves, never the supervisor at their desk.
   Attempts refused while locked are not counted, so hammering does not extend the lockout.
2. **Rate per client address** (a token bucket): every attempt from one address, whatever the user name, so
   spraying random names from one machine is slowed as much as guessing one user's password.
3. **Global rate** (a token bucket over all clients): what the station as a whole spends on password checks,
   whoever asks — a swarm of addresses cannot buy more argon2 time than this.

A refusal is answered after a short pause (`REFUSAL_PAUSE_S`, a timer on the event loop: no thread, no work).
Refused requests are cheap but not free — each is parsed, routed and answered on the loop the bench's scans
come through — and a script that waits for each answer before its next attempt, as flooding scripts do, would
otherwise send hundreds a second. At most `MAX_PAUSED` refusals wait at once; beyond that they are answered
at once, so many parallel connections cannot make the station hold open sockets without bound.

The tables are bounded (least recently used entries go first) and forget entries that have decayed. Evicting
a live lockout would give its attacker a fresh start, but filling the table needs `MAX_TRACKED` attempts, and
the per-client and global rates make that take hours — longer than the lockout lasts anyway.
"""

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from starlette.requests import Request

MAX_FAILURES = 5
FAILURE_WINDOW_S = 900.0
CLIENT_BURST = 10  # a supervisor mistyping a few times never meets it
CLIENT_PER_S = 10 / 60
GLOBAL_BURST = 20
GLOBAL_PER_S = 2.0
MAX_TRACKED = 4096
REFUSAL_PAUSE_S = 0.5
MAX_PAUSED = 64


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a login attempt is refused before its password is checked, and when to try again."""

    code: str  # a problem code (station/api/problems.py)
    retry_after_s: int


class TokenBucket:
    """`burst` attempts at once, refilled at `per_s`; `take` spends one if there is one."""

    __slots__ = ("at", "burst", "per_s", "tokens")

    def __init__(self, burst: int, per_s: float, now: float) -> None:
        self.burst = burst
        self.per_s = per_s
        self.tokens = float(burst)
        self.at = now

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.per_s)
        self.at = now

    def full(self, now: float) -> bool:
        """True when it has refilled completely (nothing left to remember)."""
        self._refill(now)
        return self.tokens >= self.burst

    def take(self, now: float) -> int:
        """Spend one token and return 0, or return the seconds until one is there (spending nothing)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / self.per_s))


class LoginThrottle:
    """The three login limits of this module (one per station; not thread-safe: used on the event loop)."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        failure_window_s: float = FAILURE_WINDOW_S,
        client_burst: int = CLIENT_BURST,
        client_per_s: float = CLIENT_PER_S,
        global_burst: int = GLOBAL_BURST,
        global_per_s: float = GLOBAL_PER_S,
        max_tracked: int = MAX_TRACKED,
        refusal_pause_s: float = REFUSAL_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        self.client_burst = client_burst
        self.client_per_s = client_per_s
        self.max_tracked = max_tracked
        self.refusal_pause_s = refusal_pause_s
        self._paused = 0
        self._clock = clock
        self._global = TokenBucket(global_burst, global_per_s, clock())
        self._clients: OrderedDict[str, TokenBucket] = OrderedDict()
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def tracked(self) -> tuple[int, int]:
        """(clients, user+client pairs) remembered now: both stay at most `max_tracked`."""
        return len(self._clients), len(self._failures)

    def admit(self, username: str, client: str) -> Refusal | None:
        """Count an attempt and return None, or say why it is refused (then nothing is counted)."""
        now = self._clock()
        wait_s = self._locked_for(self._key(username, client), now)
        if wait_s:
            return Refusal("too_many_attempts", wait_s)
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = TokenBucket(self.client_burst, self.client_per_s, now)
        wait_s = bucket.take(now)
        self._remember(self._clients, client, bucket, now)
        if wait_s:
            return Refusal("login_rate_limited", wait_s)
        wait_s = self._global.take(now)
        if wait_s:
            bucket.tokens += 1.0  # not this client's fault: give its attempt back
            return Refusal("login_busy", wait_s)
        return None

    async def pause_refusal(self) -> None:
        """Wait `REFUSAL_PAUSE_S` before a refusal is answered, unless `MAX_PAUSED` already wait."""
        if self._paused >= MAX_PAUSED:
            return
        self._paused += 1
        try:
            await asyncio.sleep(self.refusal_pause_s)
        finally:
            self._paused -= 1

    def failed(self, username: str, client: str) -> None:
        """Record a wrong password (or unknown user) for this user and client."""
        key = self._key(username, client)
        now = self._clock()
        times = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
        times.append(now)
        self._failures[key] = times
        self._evict(now)

    def succeeded(self, username: str, client: str) -> None:
        """Forget this user's failures from this client after a good login."""
        self._failures.pop(self._key(username, client), None)

    @staticmethod
    def _key(username: str, client: str) -> tuple[str, str]:
        return username.casefold(), client

    def _locked_for(self, key: tuple[str, str], now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        if now - times[-1] >= self.failure_window_s:
            del self._failures[key]  # decayed: nothing left to hold against the pair
            return 0
        if len(times) < self.max_failures or now - times[0] >= self.failure_window_s:
            return 0
        return math.ceil(self.failure_window_s - (now - times[0]))

    def _remember(self, table: "OrderedDict[str, TokenBucket]", key: str, bucket: TokenBucket, now: float) -> None:
        table[key] = bucket
        table.move_to_end(key)
        while len(table) > self.max_tracked:
            table.popitem(last=False)
        # A full bucket is the same as no bucket: drop the oldest few that have refilled, so the table shrinks
        # back when a flood ends (a few per attempt keeps each attempt's cost constant).
        for stale_key in [k for k, b in islice(table.items(), 4) if b is not bucket and b.full(now)]:
            del table[stale_key]

    def _evict(self, now: float) -> None:
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)
        for key in [k for k, t in islice(self._failures.items(), 4) if now - t[-1] >= self.failure_window_s]:
            del self._failures[key]


def login_throttle(request: Request) -> LoginThrottle:
    """The station's throttle, kept on the application (made on first use, so each app — each test — has its
    own and the composition root wires nothing)."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle()
        state.login_throttle = throttle
    return throttle
