"""The scan path's sealing (`station.store.sealing`) agrees with the wire contract's `event_hash` on any event."""

import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from cloud_sync.chain import canonical_json, event_hash
from station.ids import uuid7, uuid7_text
from station.store.sealing import canonical_text, seal

# Strings as a station can meet them: any Unicode (quotes, backslashes, controls, CJK, astral), lone surrogates
# excluded (they cannot be encoded, the workflow escapes them before an event is written).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_json_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | _text
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_ms = st.integers(0, 2**48 - 1)


@given(
    seq=st.integers(1, 2**62),
    event_id=_text,
    stream_epoch=_text,
    event_type=_text,
    order_id=st.none() | _text,
    actor=st.fixed_dictionaries({"role": _text, "id": st.none() | _text, "device": st.none() | _text}),
    at_ms=_ms,
    at_counter=st.integers(0, 2**31),
    wall_raw=_ms,
    boot_id=_text,
    clock_synced=st.booleans(),
    data=st.dictionaries(_text, _json, max_size=6),
    prev_hash=_text,
)
def test_seal_is_event_hash(
    seq: int,
    event_id: str,
    stream_epoch: str,
    event_type: str,
    order_id: str | None,
    actor: dict[str, str | None],
    at_ms: int,
    at_counter: int,
    wall_raw: int,
    boot_id: str,
    clock_synced: bool,
    data: dict[str, object],
    prev_hash: str,
) -> None:
    envelope = {
        "seq": seq,
        "event_id": event_id,
        "stream_epoch": stream_epoch,
        "type": event_type,
        "order_id": order_id,
        "actor": actor,
        "at": {"ms": at_ms, "counter": at_counter},
        "wall_raw": wall_raw,
        "boot_id": boot_id,
        "clock_synced": clock_synced,
        "data": data,
        "prev_hash": prev_hash,
    }
    sealed = seal(
        seq=seq,
        event_id=event_id,
        stream_epoch=stream_epoch,
        event_type=event_type,
        order_id=order_id,
        actor_json=canonical_text(actor),
        at_ms=at_ms,
        at_counter=at_counter,
        wall_raw=wall_raw,
        boot_id=boot_id,
        clock_synced=clock_synced,
        data_json=canonical_text(data),
        prev_hash=prev_hash,
    )
    assert sealed == event_hash(envelope)
    assert canonical_text(data).encode() == canonical_json(data)
    assert json.loads(canonical_text(data)) == data


@given(_ms)
def test_uuid7_text_is_a_version_7_uuid_of_that_millisecond(ms: int) -> None:
    text = uuid7_text(ms)
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == ms == uuid7(ms).int >> 80
