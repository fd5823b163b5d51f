"""Order intake: validation naming the field, idempotence on (order_id, version), no rewrite of started orders."""

from typing import Any

import pytest
from benchkit import FOOD, HUB, Bench, order_doc

from station.events import EventType
from station.orders.intake import cancel_order, intake_order
from station.orders.model import Status
from station.store import Store


def _refusal_fields(result_errors: list[str]) -> list[str]:
    return [e.split(":", 1)[0] for e in result_errors]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_id": ""}, "order_id"),
        ({"order_id": "bad id with spaces"}, "order_id"),
        ({"version": 0}, "version"),
        ({"lines": []}, "lines"),
        ({"ship_by": "2026-02-05T18:00:00"}, "ship_by"),
        ({"amount": "lots"}, "amount"),
        ({"weight_g": -5}, "weight_g"),
    ],
)
def test_malformed_order_names_the_field(store: Store, change: dict[str, Any], field: str) -> None:
    result = intake_order(store, order_doc(**change), HUB)
    assert result.result == "refused"
    assert field in _refusal_fields(result.errors), result.errors
    refused = store.events_from(1)[-1]
    assert refused["type"] == EventType.ORDER_REFUSED
    assert refused["data"]["errors"] == result.errors


def test_malformed_line_names_the_line(store: Store) -> None:
    doc = order_doc()
    doc["lines"][2]["qty"] = 0
    result = intake_order(store, doc, HUB)
    assert "lines.2.qty" in _refusal_fields(result.errors)


def test_gift_must_point_at_a_main_line(store: Store) -> None:
    doc = order_doc()
    doc["lines"][1]["gift_for"] = 9
    result = intake_order(store, doc, HUB)
    assert result.result == "refused"
    assert any("gift line 2" in e for e in result.errors)


def test_not_even_an_object(store: Store) -> None:
    result = intake_order(store, {"hello": "world"}, HUB)
    assert result.result == "refused"
    assert "order_id" in _refusal_fields(result.errors)


def test_idempotent_on_order_and_version(store: Store) -> None:
    assert intake_order(store, order_doc(), HUB).result == "created"
    before = store.last_seq()
    assert intake_order(store, order_doc(), HUB).result == "duplicate"
    assert store.last_seq() == before  # a replay writes nothing
    stale = intake_order(store, order_doc(version=2, notes="older"), HUB)
    assert (stale.result, stale.reason, stale.ok) == ("stale", "stale_version", False)
    refusal = store.events_from(before + 1)
    assert [(e["type"], e["data"]["reason"]) for e in refusal] == [("order.refused", "stale_version")]
    updated = intake_order(store, order_doc(version=4, notes="改地址"), HUB)
    assert updated.result == "updated"
    with store.reading() as repo:
        order = repo.order("SO20260205-8821")
    assert order is not None
    assert order.hub_version == 4
    assert order.document["notes"] == "改地址"


def test_started_order_is_revised_on_the_bench_not_refused(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(FOOD).accepted
    doc = order_doc(version=4)
    doc["lines"][2]["qty"] = 5
    result = intake_order(bench.store, doc, HUB)
    assert (result.result, result.reason, result.status) == ("updated", "revised_on_bench", Status.PACKING)
    with bench.store.reading() as repo:
        order = repo.order("SO20260205-8821")
    assert order is not None
    assert [(ln.qty, ln.verified) for ln in order.lines][2] == (5, 1)  # what was in the box still counts
    header_only = intake_order(bench.store, order_doc(version=5, notes="header change"), HUB)
    assert header_only.result == "updated"
    assert header_only.status is Status.PACKING


def test_cancelled_order_is_not_revived(store: Store) -> None:
    intake_order(store, order_doc(), HUB)
    cancel_order(store, "SO20260205-8821", "customer", HUB)
    assert intake_order(store, order_doc(version=9), HUB).reason == "order_cancelled"
