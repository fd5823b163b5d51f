"""Putting back what a revised order no longer wants: each unit scanned out of the box counts once.

When the hub removes a line or lowers a quantity of an order already (partly) in its box, the units now too
many are put-backs (`station.orders.revision`). Until every one is scanned out the order cannot be completed
(`put_back_pending`); an item scan that matches a put-back takes it out before anything is counted in
(docs/orders.md, "An order that changes on the bench").
"""

import logging

from station.events import EventType, NewEvent
from station.orders.model import Order, OrderLine, Status
from station.scan import ItemCode
from station.workflow.items import match_line
from station.workflow.outcome import ScanOutcome
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)


def scan_out(turn: Turn, order: Order, item: ItemCode, put_backs: list[OrderLine]) -> ScanOutcome | None:
    """Take `item` out of `order`'s box if it is one of its `put_backs`; None when it is none of them."""
    tx = turn.tx
    pseudo = Order(order.order_id, order.hub_version, order.version, Status.PACKING, put_backs)
    match = match_line(pseudo, item)
    if match is None or match.line.remaining <= 0:
        return None
    line = match.line
    data = {"line_no": line.line_no, "sku": line.sku}
    if match.unit_key is not None:
        if not tx.repo.unit_seen(order.order_id, match.unit_key):
            return turn.refuse("unit_not_in_box", order.order_id, unit=match.unit_key, **data)
        tx.repo.db.execute(
            "DELETE FROM verified_units WHERE order_id = ? AND unit_key = ?", [order.order_id, match.unit_key]
        )
    elif line.serialized:
        return turn.refuse("serial_required", order.order_id, **data)
    returned = line.verified + 1
    tx.repo.db.execute(
        "UPDATE put_backs SET returned = ? WHERE order_id = ? AND line_no = ?",
        [returned, order.order_id, line.line_no],
    )
    env = tx.append(
        NewEvent(
            EventType.ITEM_PUT_BACK,
            turn.actor,
            order.order_id,
            turn.scan_data() | data | {"qty": 1, "returned": returned, "of": line.qty, "unit": match.unit_key},
        )
    )
    left = sum(p.remaining for p in put_backs) - 1
    return turn.accept(
        "item_put_back",
        env["seq"],
        order,
        line_no=line.line_no,
        returned=returned,
        of=line.qty,
        put_back_left=left,
        all_verified=order.all_verified and left == 0,
    )
