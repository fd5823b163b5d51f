"""Hostile inbound payloads: every decoder of `cloud_sync.wire` refuses them with `MessageRejected` and nothing
else — deep nesting (measured before parsing), bytes that are not UTF-8, NaN/Infinity, numbers out of range,
members of the wrong shape — and the downlink answers each with a `cmd_ack`."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sync_harness import MemoryCommands

from cloud_sync.downlink import Downlink
from cloud_sync.errors import MessageRejected
from cloud_sync.mapping import MappingSettings, MappingTable, StatusMapper
from cloud_sync.wire import (
    MAX_DEPTH,
    decode_events,
    json_depth,
    loads,
    parse_ack,
    parse_cmd_ack,
    parse_command,
    parse_state,
    parse_status,
)

BIG = 16 * 1024 * 1024
DEEP = 100_000  # as deep as 200 KB of brackets goes: within a command's 256 KiB; Python's recursion limit is 1,000
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAPPER = StatusMapper(MappingSettings(inbound=MappingTable(status={"2": "pending"}, fields={"id": "order_id"})))

DECODERS: dict[str, Callable[[bytes], object]] = {
    "loads": lambda p: loads(p, max_bytes=BIG),
    "decode_events": lambda p: decode_events(p, BIG),
    "parse_ack": lambda p: parse_ack(p, BIG),
    "parse_command": lambda p: parse_command(p, max_bytes=BIG),
    "parse_command_mapped": lambda p: parse_command(p, max_bytes=BIG, mapper=MAPPER),
    "parse_cmd_ack": lambda p: parse_cmd_ack(p, BIG),
    "parse_state": parse_state,
    "parse_status": parse_status,
}


def only_refusals(payload: bytes) -> None:
    """Each decoder either accepts `payload` or raises MessageRejected with a short reason code."""
    reasons = {}
    for name, decode in DECODERS.items():
        try:
            decode(payload)
        except MessageRejected as err:
            reasons[name] = err.reason
    assert all(reason.isidentifier() for reason in reasons.values()), reasons


def nested(depth: int, *, objects: bool = False, closed: bool = True) -> bytes:
    opening, closing = (b'{"a":', b"}") if objects else (b"[", b"]")
    return opening * depth + (b"1" + closing * depth if closed else b"")


def command_with(data: bytes, cmd_id: str = "deep-1", cmd_seq: int = 1) -> bytes:
    head = json.dumps({"cmd_id": cmd_id, "cmd_seq": cmd_seq, "type": "order.hold"})[:-1].encode()
    return head + b',"data":' + data + b"}"


# -- nesting ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        nested(DEEP),
        nested(DEEP, closed=False),
        nested(DEEP // 10, objects=True),  # within the 64 KiB of an ack or a status
        nested(DEEP // 10, objects=True, closed=False),
        b'{"a":' + b"[{" * (DEEP // 10),
        command_with(nested(DEEP // 10)),
    ],
    ids=["arrays", "arrays-unclosed", "objects", "objects-unclosed", "mixed", "command"],
)
def test_deep_nesting_is_malformed_for_every_decoder(payload: bytes) -> None:
    for name, decode in DECODERS.items():
        with pytest.raises(MessageRejected) as caught:
            decode(payload)
        if name.startswith("parse_stat") and len(payload) > 64 * 1024:
            assert caught.value.reason == "oversized", name  # their limit comes first
            continue
        assert caught.value.reason == "malformed_json", name
        assert "levels deep, more than" in caught.value.detail, name


def test_the_limit_is_checked_exactly() -> None:
    ok = b'{"x":' + nested(MAX_DEPTH - 1) + b"}"
    assert json_depth(ok) == MAX_DEPTH
    assert loads(ok, max_bytes=BIG)["x"] is not None
    too_deep = b'{"x":' + nested(MAX_DEPTH) + b"}"
    with pytest.raises(MessageRejected, match=f"nested {MAX_DEPTH + 1} levels deep, more than {MAX_DEPTH}"):
        loads(too_deep, max_bytes=BIG)


def test_events_may_nest_deeper_than_commands() -> None:
    # A batch wraps the data of a command the station accepted; the hub must be able to read it back.
    data = json.loads(b'{"doc":' + nested(MAX_DEPTH - 2) + b"}")
    env = {"seq": 1, "event_id": "e", "stream_epoch": "s", "type": "order.received", "order_id": None,
           "actor": {}, "at": {}, "wall_raw": 1, "boot_id": "b", "clock_synced": True, "data": data,
           "prev_hash": "p", "hash": "h"}  # fmt: skip
    batch = json.dumps({"stream_epoch": "s", "first_seq": 1, "last_seq": 1, "events": [env]}).encode()
    assert json_depth(batch) > MAX_DEPTH
    assert decode_events(batch)[0]["data"] == data


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[[[[{{{{" * 100, "b": ['\\"[', "]]]"]}).encode()
    assert json_depth(text) == 2
    assert loads(text, max_bytes=BIG)["b"] == ['\\"[', "]]]"]


def test_an_unterminated_string_full_of_quotes_is_measured_in_linear_time() -> None:
    # Each `\"` would restart a naive string search at the next quote: quadratic on 200 KB.
    payload = b'["' + b'\\"' * 100_000
    assert json_depth(payload) == 1
    with pytest.raises(MessageRejected, match="malformed_json"):
        loads(payload, max_bytes=BIG)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@FUZZ
@given(json_values, st.booleans())
def test_json_depth_is_exact_on_valid_json(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(text) == depth_of(value)


# -- numbers and shapes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b'{"a":NaN}', "NaN is not a JSON number"),
        (b'{"a":-Infinity}', "-Infinity is not a JSON number"),
        (b'{"a":1e999}', "out of range"),
        (b'{"a":' + b"9" * 5000 + b"}", "out of range"),
        (b'{"a":9223372036854775808}', "out of range"),
        (b'{"a":-9223372036854775809}', "out of range"),
        (b"\xff\xfe{}", "can't decode"),
        (b'{"a":"\xed\xa0\x80"}', "can't decode"),  # a UTF-8-encoded surrogate
        (b"\xef\xbb\xbf{}", "BOM"),
    ],
)
def test_numbers_and_bytes_json_has_not_are_malformed(payload: bytes, detail: str) -> None:
    with pytest.raises(MessageRejected) as caught:
        loads(payload, max_bytes=BIG)
    assert caught.value.reason == "malformed_json"
    assert detail in caught.value.detail


def test_the_64_bit_range_itself_is_accepted() -> None:
    assert loads(b"[9223372036854775807,-9223372036854775808,1.5e300]", max_bytes=BIG) == [
        2**63 - 1,
        -(2**63),
        1.5e300,
    ]


@pytest.mark.parametrize("kind", [[], {}, ["order.hold"], {"a": 1}, 1, None, True])
def test_a_command_type_of_the_wrong_shape_is_unknown(kind: object) -> None:
    payload = json.dumps({"cmd_id": "c1", "cmd_seq": 1, "type": kind, "data": {}}).encode()
    with pytest.raises(MessageRejected) as caught:
        parse_command(payload, max_bytes=BIG)
    assert (caught.value.reason, caught.value.cmd_id, caught.value.cmd_seq) == ("unknown_type", "c1", 1)


def test_a_deep_command_with_readable_ids_takes_its_place_in_the_sequence() -> None:
    sink = MemoryCommands()
    downlink = Downlink(sink, max_command_bytes=256 * 1024)
    downlink.load()
    anonymous = downlink.handle(nested(DEEP))
    assert anonymous.applied_through == 0
    assert [(r.cmd_id, r.reason) for r in anonymous.rejected] == [(None, "malformed_json")]
    placed = downlink.handle(command_with(nested(DEEP)))
    assert placed.applied_through == 1, "refused in its place: the commands after it are not blocked"
    assert [(r.cmd_id, r.cmd_seq, r.reason) for r in placed.rejected] == [("deep-1", 1, "malformed_json")]
    record = sink.cmd_record("deep-1")
    assert record is not None
    assert (record.applied, record.reason) == (False, "malformed_json")
    ok = json.dumps({"cmd_id": "c2", "cmd_seq": 2, "type": "order.cancel", "data": {"order_id": "SO1"}}).encode()
    assert (downlink.handle(ok).applied_through, [c.cmd_id for c in sink.applied]) == (2, ["c2"])


# -- fuzz -------------------------------------------------------------------------------------------------------
_KEYS = [
    *("cmd_id", "cmd_seq", "type", "data", "stream_epoch", "acked_through", "missing", "events", "first_seq"),
    *("last_seq", "seq", "state", "rejected", "applied_through", "reason", "order_id", "key", "value", "id"),
]
_VALUES = st.sampled_from(["c1", "order.hold", "config.set", "online", "", "SO1", "2"]) | st.integers(-3, 3)
contract_like = st.recursive(
    _VALUES | st.none() | st.booleans() | st.floats() | st.integers(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=6),
    max_leaves=30,
)


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    """Garbage, nested brackets and contract-shaped documents of the wrong types, whole or cut or mutated."""
    kind = draw(st.sampled_from(["bytes", "nested", "shaped", "mutated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "nested":
        levels = draw(st.lists(st.sampled_from([b"[", b'{"a":', b'{"data":', b'"[', b"{", b","]), max_size=400))
        tail = draw(st.sampled_from([b"", b"1", b'"', b"]" * 50, b"}" * 50, b"\\"]))
        return b"".join(levels) + tail
    doc = draw(st.dictionaries(st.sampled_from(_KEYS), contract_like, max_size=8))
    text = json.dumps(doc, allow_nan=True).encode()
    if kind == "shaped":
        return text
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.binary(max_size=8)) + text[cut + draw(st.integers(0, 3)) :]


@FUZZ
@given(hostile_payloads())
@example(nested(DEEP))
@example(b'{"type":[],"cmd_id":"c1","cmd_seq":1}')
@example(b'{"stream_epoch":"s","first_seq":1,"last_seq":1,"events":[[]]}')
@example(b'{"applied_through":0,"rejected":[{"reason":[]}]}')
def test_decoders_raise_nothing_but_message_rejected(payload: bytes) -> None:
    only_refusals(payload)


@FUZZ
@given(hostile_payloads())
def test_the_downlink_answers_every_payload(payload: bytes) -> None:
    downlink = Downlink(MemoryCommands(), max_command_bytes=256 * 1024, mapper=MAPPER)
    downlink.load()
    ack = downlink.handle(payload)
    assert json.loads(ack.to_wire())["applied_through"] >= 0
