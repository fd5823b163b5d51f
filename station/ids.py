"""UUIDv7 identifiers (RFC 9562): time-ordered, so event ids sort roughly by creation time.

Python 3.11 has no `uuid.uuid7`; the layout is small enough to build here.
"""

import os
import time
import uuid


def _uuid7_int(unix_ms: int | None) -> int:
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"unix_ms out of range for UUIDv7: {ms}")
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    return (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """Return a version 7 UUID: 48-bit Unix milliseconds, then 74 random bits."""
    return uuid.UUID(int=_uuid7_int(unix_ms))


def uuid7_text(unix_ms: int | None = None) -> str:
    """`str(uuid7(unix_ms))`, without building a `UUID` (every event needs one, on the scan path)."""
    h = f"{_uuid7_int(unix_ms):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
