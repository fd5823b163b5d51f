"""Shops' own order numbers at the bench: any number an order is known by opens it, whatever its shape.

The precedence (station/workflow/resolve.py, docs/orders.md "Which reading wins"): a command or badge; an
item of the order being packed here; a number an order is known by; the pattern readings; the most likely one.
"""

from typing import Any

import pytest
from benchkit import FOOD, GIFT, HUB, Bench, FakeClock, make_bench, order_doc

from station.orders.intake import intake_order
from station.orders.model import Status
from station.store import Store

# A 12-digit JD order number that is also a valid UPC-A (check digit 6), and one that is not a valid GTIN.
JD_VALID_UPC = "301234567896"
JD_BAD_CHECK = "301234567891"
TAOBAO = "3912345678901234567"


def _order(order_id: str, **overrides: Any) -> dict[str, Any]:
    doc = order_doc(**({"order_id": order_id, "waybill_no": None} | overrides))
    doc["lines"] = [{"line_no": 1, "sku": "MUG", "name": "马克杯", "barcodes": ["MUG-WHITE"], "qty": 1}]
    return doc


def _take(store: Store, doc: dict[str, Any]) -> None:
    result = intake_order(store, doc, HUB)
    assert result.ok, result


def _status(bench: Bench, order_id: str) -> Status:
    with bench.store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    return order.status


@pytest.mark.parametrize("order_id", ["#1001", "ERP-2026-000123", TAOBAO, "DY-2026-1205-77", JD_BAD_CHECK])
def test_a_shops_own_order_id_opens_its_order_on_the_default_configuration(bench: Bench, order_id: str) -> None:
    _take(bench.store, _order(order_id))
    assert bench.scan("OP-001").accepted
    out = bench.scan(order_id)
    assert (out.outcome, out.kind, out.order_id) == ("accepted", "order", order_id)
    assert _status(bench, order_id) is Status.PACKING
    assert bench.scan("MUG-WHITE").status is Status.PACKED


def test_the_channel_order_number_on_the_packing_slip_opens_the_order(bench: Bench) -> None:
    _take(bench.store, _order("ERP-1", channel_order_no="6921345500012-A"))
    assert bench.scan("OP-001").accepted
    out = bench.scan("6921345500012-A")
    assert (out.outcome, out.order_id) == ("accepted", "ERP-1")


def test_a_waybill_on_a_free_bench_opens_its_order(bench: Bench) -> None:
    _take(bench.store, _order("ERP-2", waybill_no="JDVA00012345678"))
    assert bench.scan("OP-001").accepted
    out = bench.scan("JDVA00012345678")
    assert (out.outcome, out.kind, out.order_id) == ("accepted", "order", "ERP-2")


def test_a_jd_number_shaped_like_a_upc_opens_its_order_when_nothing_is_open(bench: Bench) -> None:
    _take(bench.store, _order(JD_VALID_UPC))
    assert bench.scan("OP-001").accepted
    out = bench.scan(JD_VALID_UPC)
    assert (out.outcome, out.order_id) == ("accepted", JD_VALID_UPC)


def test_an_item_of_the_open_order_wins_over_another_orders_number(bench: Bench) -> None:
    """The packer is packing: a code that is a line of the open order counts as that item, even when another
    order is known by the same number."""
    _take(bench.store, _order(JD_VALID_UPC))
    doc = order_doc(order_id="ERP-3")
    doc["lines"] = [{"line_no": 1, "sku": "TOY", "name": "玩具", "barcodes": [JD_VALID_UPC], "qty": 1}]
    _take(bench.store, doc)
    bench.login_and_open("ERP-3")
    out = bench.scan(JD_VALID_UPC)
    assert (out.outcome, out.kind, out.order_id) == ("accepted", "item", "ERP-3")


def test_another_orders_number_while_packing_names_that_order(bench: Bench) -> None:
    _take(bench.store, _order(JD_VALID_UPC))
    bench.login_and_open()
    out = bench.scan(JD_VALID_UPC)
    assert (out.reason, out.order_id, out.detail["open_order"]) == ("other_order_open", JD_VALID_UPC, "SO20260205-8821")


def test_an_ean_symbol_is_a_product_even_when_an_order_has_its_number(bench: Bench) -> None:
    _take(bench.store, _order(JD_VALID_UPC))
    assert bench.scan("OP-001").accepted
    out = bench.scan("]E0" + "0" + JD_VALID_UPC)
    assert (out.kind, out.reason) == ("item", "no_open_order")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ERP-2026-999999", "unknown_code"),  # only the internal-SKU pattern would take it
        ("#9999", "unknown_code"),
        ("SO20269999-1", "unknown_order"),  # shaped like an order: not at this station
        ("SF1234567890999", "unknown_waybill"),  # shaped like a waybill: of no order here
        (GIFT, "no_open_order"),  # a product: scan its order first
        (JD_BAD_CHECK, "bad_check_digit"),  # no order has it: a misread GTIN
    ],
)
def test_a_code_no_order_has_says_what_it_is(bench: Bench, code: str, reason: str) -> None:
    assert bench.scan("OP-001").accepted
    assert bench.scan(code).reason == reason


def test_a_labelled_order_is_handed_over_at_the_dock_by_any_of_its_numbers(store: Store, clock: FakeClock) -> None:
    bench = make_bench(store, clock)
    bench.login_and_open()
    for code in ("]C1010690123456789221SN0001", GIFT, FOOD, FOOD):
        assert bench.scan(code).accepted
    assert bench.scan("SF1234567890123").accepted  # the label scanned back
    assert bench.scan("CMD:BATCH:SF").accepted
    out = bench.scan("SO20260205-8821")
    assert (out.outcome, out.order_id, out.status) == ("accepted", "SO20260205-8821", Status.HANDED_OVER)


def test_an_order_id_with_a_zpl_command_character_is_refused_at_intake(store: Store) -> None:
    result = intake_order(store, _order("A^XZ"), HUB)
    assert (result.result, result.reason) == ("refused", "invalid_order")
    assert "printable ASCII" in " ".join(result.errors)


def test_lookups_by_every_number_use_an_index(store: Store) -> None:
    for column in ("order_id", "channel_order_no", "waybill_no"):
        plan = store.conn.execute(f"EXPLAIN QUERY PLAN SELECT order_id FROM orders WHERE {column} = ?", ["x"])
        detail = " ".join(str(row[-1]) for row in plan)
        assert "USING" in detail, (column, detail)
        assert "INDEX" in detail, (column, detail)
