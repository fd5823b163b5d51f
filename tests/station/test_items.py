"""Matching a scanned item to an order line: GTIN forms, exact codes, per-unit prefixes, lines with units left."""

from station.orders.model import Order, OrderLine, Status
from station.scan import ItemCode
from station.workflow.items import match_line


def _order(*lines: OrderLine) -> Order:
    return Order(order_id="SO20260205-1", hub_version=1, version=1, status=Status.PACKING, lines=list(lines))


def _line(line_no: int, *barcodes: str, qty: int = 1, verified: int = 0) -> OrderLine:
    return OrderLine(line_no, f"SKU-{line_no}", "item", barcodes, qty, verified=verified)


def test_an_ean_on_the_order_accepts_the_gs1_form_of_the_same_gtin() -> None:
    order = _order(_line(1, "6901234567892"))
    match = match_line(order, ItemCode("]C1" + "0106901234567892", "06901234567892", is_gs1=True))
    assert match is not None
    assert (match.line.line_no, match.unit_key) == (1, None)


def test_internal_codes_compare_exactly() -> None:
    order = _order(_line(1, "FOOD-2KG-BAG"))
    assert match_line(order, ItemCode("FOOD-2KG-BAG", None)) is not None
    assert match_line(order, ItemCode("food-2kg-bag", None)) is None
    assert match_line(order, ItemCode("FOOD-2KG-BAGX", None)) is None


def test_a_per_unit_prefix_names_the_unit_and_a_bare_star_accepts_nothing() -> None:
    order = _order(_line(1, "FEEDER-SN*"), _line(2, "*"))
    match = match_line(order, ItemCode("FEEDER-SN0001", None))
    assert match is not None
    assert (match.line.line_no, match.unit_key) == (1, "FEEDER-SN0001")
    assert match_line(order, ItemCode("FEEDER-SN", None)) is None  # the prefix alone is no unit
    assert match_line(order, ItemCode("ANYTHING", None)) is None


def test_a_code_listed_exactly_is_a_product_code_even_where_a_prefix_matches() -> None:
    order = _order(_line(1, "FEEDER-SN*", "FEEDER-SNBOX"))
    match = match_line(order, ItemCode("FEEDER-SNBOX", None))
    assert match is not None
    assert match.unit_key is None


def test_a_gs1_serial_makes_the_unit_key() -> None:
    order = _order(_line(1, "6901234567892"))
    match = match_line(order, ItemCode("x", "06901234567892", serial="SN1", is_gs1=True))
    assert match is not None
    assert match.unit_key == "06901234567892/SN1"


def test_the_first_line_with_units_left_wins_else_the_first_accepting_line() -> None:
    full = _line(1, "6901234567892", qty=1, verified=1)
    open_line = _line(2, "6901234567892", qty=2)
    item = ItemCode("6901234567892", "06901234567892")
    first = match_line(_order(full, open_line), item)
    assert first is not None
    assert first.line is open_line
    open_line.verified = 2
    second = match_line(_order(full, open_line), item)
    assert second is not None
    assert second.line is full
