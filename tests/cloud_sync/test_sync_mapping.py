"""Status-code and field-name mapping at the edge: inbound on command data, outbound as a `mapped` copy."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cloud_sync.chain import event_hash
from cloud_sync.mapping import CANONICAL_STATUSES, MappingSettings, MappingTable, StatusMapper

ERP = MappingSettings(
    inbound=MappingTable(status={"2": "pending", "shipped": "labeled"}, fields={"erp_order_no": "order_id"}),
    outbound=MappingTable(status={"pending": "2", "labeled": "shipped"}, fields={"order_id": "erp_order_no"}),
)


def test_inbound_translates_codes_and_names_at_every_level() -> None:
    m = StatusMapper(ERP)
    doc = {"erp_order_no": "SO1", "status": 2, "lines": [{"status": "shipped", "erp_order_no": "x"}], "flag": True}
    out = m.inbound(doc)
    assert out == {"order_id": "SO1", "status": "pending", "lines": [{"status": "labeled", "order_id": "x"}],
                   "flag": True}  # fmt: skip
    assert doc["status"] == 2, "the input is not modified"


def test_outbound_adds_mapped_copy_and_keeps_the_hash() -> None:
    m = StatusMapper(ERP)
    env: dict[str, Any] = {
        "seq": 1, "event_id": "e", "stream_epoch": "s", "type": "order.status_changed", "order_id": "SO1",
        "actor": {}, "at": {"ms": 1, "counter": 0}, "wall_raw": 1, "boot_id": "b", "clock_synced": True,
        "data": {"from": "pending", "to": "labeled", "order_id": "SO1", "version": 3}, "prev_hash": "0" * 64,
    }  # fmt: skip
    env["hash"] = event_hash(env)
    out = m.add_mapped(env)
    assert out["mapped"] == {"from": "2", "to": "shipped", "erp_order_no": "SO1", "version": 3}
    assert out["data"] == env["data"]
    assert event_hash(out) == env["hash"]
    assert "mapped" not in env


def test_empty_mapping_is_identity() -> None:
    m = StatusMapper(MappingSettings())
    assert not m.outbound_active
    env = {"data": {"to": "packed"}}
    assert m.add_mapped(env) is env
    assert m.inbound({"status": "packed"}) == {"status": "packed"}


def test_booleans_are_not_status_codes() -> None:
    m = StatusMapper(MappingSettings(inbound=MappingTable(status={"True": "pending", "1": "packed"})))
    assert m.inbound({"status": True}) == {"status": True}
    assert m.inbound({"status": 1}) == {"status": "packed"}


foreign = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=6)


@given(
    st.lists(foreign, min_size=7, max_size=7, unique=True),
    st.lists(st.booleans(), min_size=7, max_size=7),
    st.sampled_from(CANONICAL_STATUSES),
)
def test_inverse_tables_round_trip(codes: list[str], used: list[bool], status: str) -> None:
    out_table = {c: f for c, f, u in zip(CANONICAL_STATUSES, codes, used, strict=True) if u}
    settings = MappingSettings(
        inbound=MappingTable(status={v: k for k, v in out_table.items()}),
        outbound=MappingTable(status=out_table),
    )
    m = StatusMapper(settings)
    assert m.inbound(m.outbound({"to": status})) == {"to": status}
