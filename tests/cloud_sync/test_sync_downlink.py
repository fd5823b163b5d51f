"""Commands: once per cmd_id, in cmd_seq order, every refusal reported with its reason, nothing crashes."""

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sync_harness import MemoryCommands

from cloud_sync.downlink import Downlink
from cloud_sync.mapping import MappingSettings, MappingTable, StatusMapper
from cloud_sync.ports import Command


def cmd(seq: int, kind: str = "order.cancel", cmd_id: str | None = None, **data: Any) -> bytes:
    body = data or {"order_id": f"SO{seq}"}
    return json.dumps({"cmd_id": cmd_id or f"c{seq}", "cmd_seq": seq, "type": kind, "data": body}).encode()


def make(sink: MemoryCommands | None = None, **kw: Any) -> tuple[Downlink, MemoryCommands]:
    sink = sink or MemoryCommands()
    d = Downlink(sink, max_command_bytes=kw.pop("max_command_bytes", 4096), **kw)
    d.load()
    return d, sink


def test_in_order_and_idempotent() -> None:
    d, sink = make()
    assert d.handle(cmd(1)).applied_through == 1
    ack = d.handle(cmd(1))
    assert (ack.applied_through, ack.rejected) == (1, ())
    assert [c.cmd_id for c in sink.applied] == ["c1"]
    assert d.stats.duplicates == 1


def test_early_commands_wait_for_their_turn() -> None:
    d, sink = make()
    assert d.handle(cmd(3)).applied_through == 0
    assert d.handle(cmd(2)).applied_through == 0
    assert d.waiting == 2
    assert d.handle(cmd(1)).applied_through == 3
    assert [c.cmd_seq for c in sink.applied] == [1, 2, 3]


def test_bookkeeping_survives_a_restart(tmp_path: Path) -> None:
    d, _ = make(MemoryCommands(tmp_path / "cmds.db"))
    d.handle(cmd(1))
    d.handle(cmd(2, "order.hold", order_id="UNKNOWN", reason="check"))
    again, sink = make(MemoryCommands(tmp_path / "cmds.db"))
    assert again.applied_through == 2
    ack = again.handle(cmd(2, "order.hold", order_id="UNKNOWN", reason="check"))
    assert sink.applied == [], "never applied twice"
    assert [(r.cmd_id, r.reason) for r in ack.rejected] == [("c2", "unknown_order")], "the refusal is repeated"


def test_station_refusal_is_reported_and_sequence_moves_on() -> None:
    d, _ = make()
    ack = d.handle(cmd(1, "order.hold", order_id="UNKNOWN", reason="why"))
    assert ack.applied_through == 1
    assert [(r.cmd_id, r.cmd_seq, r.reason) for r in ack.rejected] == [("c1", 1, "unknown_order")]


def test_malformed_commands_are_refused_without_crashing() -> None:
    d, sink = make()
    cases = {
        b"\xff\xfe": "malformed_json",
        b"[1, 2]": "not_an_object",
        b'{"cmd_seq": 1, "type": "order.cancel", "data": {}}': "invalid_cmd_id",
        b'{"cmd_id": "x y", "cmd_seq": 1}': "invalid_cmd_id",
        b'{"cmd_id": "a", "cmd_seq": "1", "type": "order.cancel", "data": {"order_id": "S"}}': "invalid_cmd_seq",
        b'{"cmd_id": "a", "cmd_seq": true, "type": "order.cancel", "data": {"order_id": "S"}}': "invalid_cmd_seq",
        b'{"cmd_id": "a", "cmd_seq": 0, "type": "order.cancel", "data": {"order_id": "S"}}': "invalid_cmd_seq",
    }
    for payload, reason in cases.items():
        ack = d.handle(payload)
        assert ack.applied_through == 0
        assert [r.reason for r in ack.rejected] == [reason], payload
    assert sink.applied == []
    assert d.handle(cmd(1)).applied_through == 1


def test_bad_body_with_readable_id_takes_its_place_as_refused() -> None:
    d, sink = make()
    bad = [
        cmd(1, "order.explode"),
        cmd(2, "priority.set", order_id="SO1", level="X"),
        cmd(3, "order.hold", order_id="SO1"),  # no reason
        cmd(4, "config.set", key="Not A Key", value=1),
        json.dumps({"cmd_id": "c5", "cmd_seq": 5, "type": "order.cancel", "data": "SO1"}).encode(),
        cmd(6, "order.upsert", order_id="SO1", version="3", lines=[]),
    ]
    reasons = [d.handle(p).rejected[0].reason for p in bad]
    assert reasons == ["unknown_type", "invalid_data", "invalid_data", "invalid_data", "invalid_data", "invalid_data"]
    assert d.applied_through == 6
    assert sink.applied == []
    assert d.handle(cmd(7, "priority.set", order_id="SO1", level="S")).applied_through == 7


def test_oversized_command_is_named_and_recorded() -> None:
    d, _ = make(max_command_bytes=1024)
    big = cmd(1, "order.upsert", order_id="SO1", version=1, lines=[{"x": "y" * 5000}])
    ack = d.handle(big)
    assert [(r.cmd_id, r.cmd_seq, r.reason) for r in ack.rejected] == [("c1", 1, "oversized")]
    assert ack.applied_through == 1


def test_reused_seq_with_new_id_refused() -> None:
    d, sink = make()
    d.handle(cmd(1))
    ack = d.handle(cmd(1, cmd_id="other"))
    assert [(r.cmd_id, r.reason) for r in ack.rejected] == [("other", "cmd_seq_reused")]
    d.handle(cmd(3))
    ack = d.handle(cmd(3, cmd_id="another"))
    assert [(r.cmd_id, r.reason) for r in ack.rejected] == [("another", "cmd_seq_reused")]
    assert len(sink.applied) == 1


def test_station_errors_are_retried_then_refused() -> None:
    failing = {"c1"}
    sink = MemoryCommands(fail=lambda c: c.cmd_id in failing)
    d, _ = make(sink, max_apply_attempts=3)
    assert d.handle(cmd(1)).applied_through == 0
    failing.clear()
    ack = d.retry()
    assert ack is not None
    assert ack.applied_through == 1
    assert ack.rejected == ()
    failing.add("c2")
    d.handle(cmd(2))
    assert d.retry() is None
    ack = d.retry()
    assert ack is not None
    assert [(r.cmd_id, r.reason) for r in ack.rejected] == [("c2", "internal_error")]


def test_buffer_is_bounded() -> None:
    d, _ = make(buffer_max=5)
    for seq in range(2, 20):
        d.handle(cmd(seq))
    assert d.waiting == 5


def test_inbound_mapping_before_checks() -> None:
    mapping = MappingSettings(inbound=MappingTable(fields={"erp_no": "order_id", "prio": "level"}))
    d, sink = make(mapper=StatusMapper(mapping))
    d.handle(json.dumps({"cmd_id": "c1", "cmd_seq": 1, "type": "priority.set",
                         "data": {"erp_no": "SO9", "prio": "A"}}).encode())  # fmt: skip
    assert sink.applied == [Command("c1", 1, "priority.set", {"order_id": "SO9", "level": "A"})]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)), max_size=20))
def test_fuzz_never_raises_and_never_applies_garbage(payloads: list[bytes]) -> None:
    d, sink = make()
    for p in payloads:
        ack = d.handle(p)
        assert ack.applied_through == d.applied_through
    assert all(c.type for c in sink.applied)
