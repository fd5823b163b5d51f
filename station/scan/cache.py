"""`ReadingCache`: remembers the readings of recent scans, because a bench scans the same codes all day.

`interpret` is a pure function of the read, the rules and today's date (the century of a GS1 date), and a
`Reading` is immutable, so a remembered reading is the reading. Only `bytes` and `str` reads up to
`CACHEABLE_LENGTH` are remembered: junk and oversized reads are interpreted every time and never fill the
cache.
"""

import datetime
from collections.abc import Callable

from station.scan.interpreter import interpret
from station.scan.model import Reading
from station.scan.rules import ScanRules

CACHE_SIZE = 1024
CACHEABLE_LENGTH = 128


class ReadingCache:
    """`interpret` with the rules fixed, remembering up to `CACHE_SIZE` recent reads (oldest forgotten first)."""

    def __init__(self, rules: ScanRules, *, today: Callable[[], datetime.date] = datetime.date.today) -> None:
        self.rules = rules
        self._today = today
        self._day: datetime.date | None = None
        self._readings: dict[tuple[bytes | str, bool], Reading] = {}

    def interpret(self, raw: bytes | str, *, open_order: bool) -> Reading:
        """The reading of `raw` (see `station.scan.interpret`)."""
        if type(raw) not in (bytes, str) or len(raw) > CACHEABLE_LENGTH:
            return interpret(raw, self.rules, open_order=open_order)
        day = self._today()
        if day != self._day:  # a new day may put a two-digit GS1 year in another century
            self._readings.clear()
            self._day = day
        key = (raw, open_order)
        reading = self._readings.get(key)
        if reading is None:
            reading = interpret(raw, self.rules, open_order=open_order)
            if len(self._readings) >= CACHE_SIZE:
                del self._readings[next(iter(self._readings))]
            self._readings[key] = reading
        return reading
