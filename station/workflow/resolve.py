"""What a scan means at this bench now: the station's own knowledge first, the interpreter's patterns as hints.

The interpreter (`station.scan`) is pure: it reads a code by its shape and may offer alternatives (a digit
string can be an order number, a waybill or a GTIN). Only the store knows which orders exist and by which
numbers, so the precedence is decided here (docs/orders.md, "Which reading wins"):

1. a command or a badge is what it says; so is a code the interpreter could not read at all;
2. an item of the order being packed at this bench: the packer is packing it;
3. a number an order is known by (its id, its channel order number, its waybill), whatever its shape;
4. the interpreter's readings that mean something here (an order that exists, a waybill of a known order);
5. else the interpreter's most likely reading.
"""

import dataclasses
import logging

from station.orders.model import Bench, Order, OrderNumber, Status
from station.scan import CodeKind, Problem, Reading, Waybill
from station.store import Tx
from station.workflow.items import match_line

logger = logging.getLogger(__name__)

# Readings whose text may still be an order's number: what the interpreter read by shape, or could not place.
_MAY_NAME_AN_ORDER = frozenset({CodeKind.ORDER, CodeKind.WAYBILL, CodeKind.ITEM})
_UNPLACED = frozenset({Problem.UNKNOWN_CODE, Problem.BAD_CHECK_DIGIT})


def resolve_reading(tx: Tx, reading: Reading, bench: Bench) -> Reading:
    """The reading of the scan that means something at `bench` now (see the module docstring)."""
    if reading.kind in (CodeKind.COMMAND, CodeKind.BADGE):
        return reading
    if reading.kind is CodeKind.UNKNOWN and reading.problem not in _UNPLACED:
        return reading  # not readable text (control characters, bad GS1, too long): nothing to look up
    on_bench = tx.repo.order(bench.order_id) if bench.order_id else None
    candidates = (reading, *reading.alternatives)
    if on_bench is not None and on_bench.status is Status.PACKING:
        for candidate in candidates:
            if candidate.kind is CodeKind.ITEM and candidate.item and match_line(on_bench, candidate.item):
                return candidate
    if not _is_product_symbol(reading):
        known = _known_order(tx, candidates)
        if known is not None:
            return _reading_of_known(tx, reading, bench, *known)
    for candidate in candidates:
        if candidate.kind is CodeKind.ORDER and tx.repo.order(candidate.order_id or "") is not None:
            return candidate
        if (
            candidate.kind is CodeKind.WAYBILL
            and candidate.waybill is not None
            and tx.repo.order_id_by_waybill(candidate.waybill.number) is not None
        ):
            return candidate
    return reading


def _is_product_symbol(reading: Reading) -> bool:
    # An EAN/UPC symbol (`]E…`) or GS1 data is printed on products only: never an order's number.
    return reading.kind is CodeKind.ITEM and (
        (reading.symbology or "").startswith("]E") or (reading.item is not None and reading.item.is_gs1)
    )


def _known_order(tx: Tx, candidates: tuple[Reading, ...]) -> tuple[str, OrderNumber, str] | None:
    """(order id, which number matched, the code) of the first order known by a code the scan may carry."""
    for code in _codes(candidates):
        found = tx.repo.order_by_number(code)
        if found is not None:
            return (*found, code)
    return None


def _codes(candidates: tuple[Reading, ...]) -> list[str]:
    """The codes a scan may name an order by: its text as read, the parts a pattern picked out (a pick
    ticket's id group, a waybill number), and their upper-case forms (`fold_case`), each once."""
    codes: list[str] = []
    for candidate in candidates:
        if candidate.kind is not CodeKind.UNKNOWN and candidate.kind not in _MAY_NAME_AN_ORDER:
            continue
        picked = candidate.order_id or (candidate.waybill.number if candidate.waybill else None)
        for code in (candidate.text, picked):
            for form in (code, code.upper() if code else None):
                if form and form not in codes:
                    codes.append(form)
    return codes


def _reading_of_known(tx: Tx, reading: Reading, bench: Bench, order_id: str, by: OrderNumber, code: str) -> Reading:
    """The scan as the order it names. At a dock any number of an order hands it over; at a bench with an
    order on it a waybill is the label scanned back; on a free bench every number of an order opens it."""
    order = tx.repo.order(order_id)
    assert order is not None
    if bench.batch_id is not None:
        return _as_waybill(reading, order, order.waybill_no if order.waybill_no else code)
    if by is OrderNumber.WAYBILL and bench.order_id is not None:
        return _as_waybill(reading, order, code)
    return dataclasses.replace(reading, kind=CodeKind.ORDER, order_id=order_id, problem=None, alternatives=())


def _as_waybill(reading: Reading, order: Order, number: str) -> Reading:
    waybill = Waybill(carrier=order.carrier or "", number=number)
    return dataclasses.replace(reading, kind=CodeKind.WAYBILL, waybill=waybill, problem=None, alternatives=())
