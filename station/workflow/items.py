"""Matching a scanned item code to an order line.

A line lists the barcodes it accepts: GTINs (compared as 14-digit GTINs, so an EAN-13 on the order matches
the GS1 AI 01 form on the box), internal codes (compared exactly), and per-unit code prefixes written with
a trailing `*` (e.g. `FEEDER-PRO-SN*`), where the full scanned code identifies one unit.
"""

from dataclasses import dataclass
from functools import lru_cache

from station.orders.model import Order, OrderLine
from station.scan import ItemCode

_GTIN_LENGTHS = (8, 12, 13, 14)


def as_gtin14(code: str) -> str | None:
    """A digit string of GTIN length, left-padded to 14 digits (no check-digit test: the order is trusted)."""
    if code.isascii() and code.isdigit() and len(code) in _GTIN_LENGTHS:
        return code.zfill(14)
    return None


@dataclass(frozen=True, slots=True)
class LineMatch:
    """The line a scan belongs to, and the unit key when the scan identifies one unit."""

    line: OrderLine
    unit_key: str | None


@dataclass(frozen=True, slots=True)
class _AcceptedCodes:
    """A line's barcodes, ready to compare: GTINs as GTIN-14, other codes exactly, per-unit prefixes."""

    gtin14s: frozenset[str]
    exact: frozenset[str]
    unit_prefixes: tuple[str, ...]


@lru_cache(maxsize=4096)
def _accepted_codes(barcodes: tuple[str, ...]) -> _AcceptedCodes:
    # Cached on the barcode tuple: a line is matched on every scan of its order, its barcodes never change.
    gtin14s = {gtin for barcode in barcodes if (gtin := as_gtin14(barcode)) is not None}
    prefixes = tuple(barcode[:-1] for barcode in barcodes if barcode.endswith("*") and len(barcode) > 1)
    exact = {barcode for barcode in barcodes if not barcode.endswith("*")}
    return _AcceptedCodes(frozenset(gtin14s), frozenset(exact), prefixes)


def _accepts(line: OrderLine, item: ItemCode) -> tuple[bool, str | None]:
    """Whether the line accepts the item, and the unit key when a per-unit prefix matched. A code the line
    lists exactly (or its GTIN) is a product code even if a prefix of the same line would also match it."""
    accepted = _accepted_codes(line.barcodes)
    if item.code in accepted.exact or (item.gtin14 is not None and item.gtin14 in accepted.gtin14s):
        return True, None
    for prefix in accepted.unit_prefixes:
        if item.code.startswith(prefix) and len(item.code) > len(prefix):
            return True, item.code
    return False, None


def match_line(order: Order, item: ItemCode) -> LineMatch | None:
    """The line this item belongs to: the first accepting line with units left, else the first accepting line."""
    candidates: list[LineMatch] = []
    for line in order.lines:
        ok, unit_code = _accepts(line, item)
        if ok:
            unit_key = unit_code
            if item.serial:
                unit_key = f"{item.gtin14 or item.code}/{item.serial}"
            candidates.append(LineMatch(line, unit_key))
    for candidate in candidates:
        if candidate.line.remaining > 0:
            return candidate
    return candidates[0] if candidates else None
