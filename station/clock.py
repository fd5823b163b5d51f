"""Time at the station: a hybrid logical clock that never runs backwards, and facts about the wall clock.

A Raspberry Pi has no RTC: after a power cut it boots with the time of the last shutdown (or 1970) until NTP
answers. Event times therefore come from a hybrid logical clock (HLC): wall milliseconds, never below the last
value issued, plus a counter that orders events issued within the same millisecond or while the wall clock is
behind. The last value is persisted by the store in the same transaction as each event, so a reboot resumes
from it.
"""

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cloud_sync.events import ClockDict

logger = logging.getLogger(__name__)

WallClockMs = Callable[[], int]

# Event time may run ahead of the wall clock for a moment (the wall clock stepped back by a few seconds). Further
# ahead than this, with the wall clock synchronised, the station once ran on a clock from the future (a wrong RTC
# or fake-hwclock file) and keeps issuing event times from that future until real time catches up.
MAX_EVENT_CLOCK_LEAD_MS = 5 * 60_000


def system_wall_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch, as the system reports it (may jump)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True, order=True)
class Hlc:
    """One hybrid-logical-clock reading: wall milliseconds, then a counter."""

    ms: int
    counter: int

    def as_dict(self) -> ClockDict:
        """The wire form used in event envelopes."""
        return {"ms": self.ms, "counter": self.counter}


class HybridLogicalClock:
    """Issues strictly increasing `Hlc` values from a wall clock that may jump backwards."""

    def __init__(self, wall_ms: WallClockMs = system_wall_ms, last: Hlc | None = None) -> None:
        self._wall_ms = wall_ms
        self._last = last or Hlc(0, 0)

    @property
    def last(self) -> Hlc:
        """The last value issued (or restored from the store)."""
        return self._last

    def restore(self, last: Hlc) -> None:
        """Continue after `last` (read from the store at start); never moves the clock back."""
        self._last = max(self._last, last)

    def lead_ms(self) -> int:
        """How far the last value issued is ahead of the wall clock now (0 or less when it is not)."""
        return self._last.ms - self._wall_ms()

    def tick(self) -> tuple[Hlc, int]:
        """Issue the next value; also return the raw wall reading it was derived from."""
        wall = self._wall_ms()
        now = Hlc(wall, 0) if wall > self._last.ms else Hlc(self._last.ms, self._last.counter + 1)
        self._last = now
        return now, wall


def read_boot_id() -> str:
    """The kernel's id for this boot, so events can be grouped by boot (empty off Linux)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: we only need the call to succeed; the layout is padded generously.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


_TIME_ERROR = 5  # adjtimex() return value when the kernel considers the clock unsynchronised


class SyncState:
    """Whether the kernel believes the wall clock is synchronised (NTP/chrony), cached for a while.

    `adjtimex(2)` with no modes is a cheap read-only syscall; its return value is TIME_ERROR when the
    clock is unsynchronised. Where the call is unavailable the clock is reported as not synchronised.
    """

    def __init__(self, refresh_s: float = 60.0) -> None:
        self._refresh_s = refresh_s
        self._checked_at = -refresh_s
        self._synced = False
        libc_name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None

    def is_synced(self) -> bool:
        """True when the kernel reports a synchronised clock (re-read at most every `refresh_s`)."""
        now = time.monotonic()
        if now - self._checked_at >= self._refresh_s:
            self._checked_at = now
            self._synced = self._read()
        return self._synced

    def _read(self) -> bool:
        if self._libc is None:
            return False
        buf = _Timex()
        try:
            state = self._libc.adjtimex(ctypes.byref(buf))
        except (AttributeError, OSError):
            return False
        return bool(state >= 0 and state != _TIME_ERROR)
