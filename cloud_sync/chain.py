"""The event hash chain as the wire contract defines it, for hubs to verify a station's stream.

`hash` = SHA-256 (hex) of the canonical JSON (sorted keys, no whitespace, UTF-8 kept) of the fields in
`HASHED_FIELDS`; `prev_hash` of seq 1 is the SHA-256 of "packing-station genesis " + stream_epoch; every
later event's `prev_hash` is the `hash` of the event before it. The station computes the same thing; a test
checks both sides agree on events from the real station store.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS_PREFIX = "packing-station genesis "

HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "event_id",
    "stream_epoch",
    "type",
    "order_id",
    "actor",
    "at",
    "wall_raw",
    "boot_id",
    "clock_synced",
    "data",
    "prev_hash",
)


def genesis_hash(stream_epoch: str) -> str:
    """The `prev_hash` of the first event of a stream."""
    return hashlib.sha256((GENESIS_PREFIX + stream_epoch).encode()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(envelope: Mapping[str, Any]) -> str:
    """The hash an envelope must carry."""
    return hashlib.sha256(canonical_json({k: envelope[k] for k in HASHED_FIELDS})).hexdigest()


def hash_ok(envelope: Mapping[str, Any]) -> bool:
    """True when the envelope's own `hash` matches its content (False also for missing fields)."""
    try:
        return bool(event_hash(envelope) == envelope["hash"])
    except (KeyError, TypeError, ValueError):
        return False
