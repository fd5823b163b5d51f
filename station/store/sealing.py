"""Sealing an event on the scan path: its canonical JSON pieces and its hash, built without re-encoding.

The hash chain's definition is `cloud_sync.chain.event_hash`: SHA-256 of the canonical JSON (sorted keys, no
whitespace, UTF-8 kept) of the hashed fields. The station stores the actor and the data as that same
canonical JSON, so the whole canonical text is those two pieces plus scalars in a fixed key order — one
encoding of the data per event instead of three. `tests/station/test_sealing.py` holds this to `event_hash`.
"""

import hashlib
import json
from json.encoder import encode_basestring  # what json.dumps uses for a str when ensure_ascii is off
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_text(value: Any) -> str:
    """Canonical JSON text of a value (`cloud_sync.chain.canonical_json`, as `str`)."""
    return _CANONICAL.encode(value)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def seal(
    *,
    seq: int,
    event_id: str,
    stream_epoch: str,
    event_type: str,
    order_id: str | None,
    actor_json: str,
    at_ms: int,
    at_counter: int,
    wall_raw: int,
    boot_id: str,
    clock_synced: bool,
    data_json: str,
    prev_hash: str,
) -> str:
    """The event's `hash`, from its fields with `actor` and `data` already in canonical JSON."""
    text = (
        f'{{"actor":{actor_json},"at":{{"counter":{int(at_counter)},"ms":{int(at_ms)}}},'
        f'"boot_id":{encode_basestring(boot_id)},"clock_synced":{"true" if clock_synced else "false"},'
        f'"data":{data_json},"event_id":{encode_basestring(event_id)},"order_id":{_text_or_null(order_id)},'
        f'"prev_hash":{encode_basestring(prev_hash)},"seq":{int(seq)},'
        f'"stream_epoch":{encode_basestring(stream_epoch)},"type":{encode_basestring(event_type)},'
        f'"wall_raw":{int(wall_raw)}}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()
