"""Context breaks ties: of a scan's possible readings, the one that means something at this bench now.

The interpreter (`station.scan`) is pure and may offer alternatives for an ambiguous code (a digit string can
be an order number, a waybill or a GTIN). Only the store knows which orders, waybills and lines exist.
"""

import logging

from station.orders.model import Bench
from station.scan import CodeKind, Reading
from station.store import Tx
from station.workflow.items import match_line

logger = logging.getLogger(__name__)


def resolve_reading(tx: Tx, reading: Reading, bench: Bench) -> Reading:
    """The first reading that means something here, else the most likely one."""
    open_order = tx.repo.order(bench.order_id) if bench.order_id else None
    for candidate in (reading, *reading.alternatives):
        if candidate.kind in (CodeKind.COMMAND, CodeKind.BADGE, CodeKind.UNKNOWN):
            return candidate
        if candidate.kind is CodeKind.ORDER and tx.repo.order(candidate.order_id or "") is not None:
            return candidate
        if (
            candidate.kind is CodeKind.WAYBILL
            and candidate.waybill is not None
            and tx.repo.order_id_by_waybill(candidate.waybill.number) is not None
        ):
            return candidate
        if (
            candidate.kind is CodeKind.ITEM
            and candidate.item is not None
            and open_order is not None
            and match_line(open_order, candidate.item) is not None
        ):
            return candidate
    return reading
