"""Packing an order at the bench: open (or resume) it, verify its items, complete it, abort it.

Scanning an order opens it on the bench; each item scan verifies one unit (or `CMD:QTY:n` units) of a line;
`CMD:COMPLETE` or the last item (with `[workflow] auto_complete`) marks it packed once the lifecycle's guards
hold; `CMD:ABORT` sends it back to pending and its verified items back to the shelf (docs/orders.md,
"Lifecycle" and "Scans").
"""

import dataclasses
import logging
from typing import Any

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Evidence, Facts, decide
from station.orders.model import Feedback, Order, Role, Status
from station.orders.revision import outstanding_put_backs
from station.store import Tx
from station.workflow import evidence, put_back
from station.workflow.items import match_line
from station.workflow.outcome import ScanOutcome
from station.workflow.turn import MAX_CODE_IN_EVENT, Turn

logger = logging.getLogger(__name__)


def open_order(turn: Turn) -> ScanOutcome:
    """An order number: open the order on the bench, or resume it if it is already being packed here."""
    tx, bench = turn.tx, turn.bench
    order_id = turn.scan.reading.order_id or turn.scan.reading.text
    if bench.batch_id is not None:
        return turn.refuse("dock_expects_waybill", order_id)
    order = tx.repo.order(order_id)
    if order is None:
        return turn.refuse("unknown_order", None, order_ref=order_id[:MAX_CODE_IN_EVENT])
    current = turn.bench_order()
    if current is not None and current.order_id != order.order_id:
        if current.status is Status.PACKING:
            return turn.refuse("other_order_open", order.order_id, open_order=current.order_id)
        if current.status is Status.PACKED:
            return turn.refuse("label_pending", order.order_id, open_order=current.order_id)
    resuming = order.status is Status.PACKING and order.bench_id == bench.bench_id
    facts = Facts(
        actor_role=turn.role,
        logged_in=True,
        open_at_other_bench=order.status is Status.PACKING and order.bench_id != bench.bench_id,
    )
    if resuming:
        bench.order_id = order.order_id
        env = tx.append(
            NewEvent(
                EventType.STATUS_CHANGED,
                turn.actor,
                order.order_id,
                {"from": "packing", "to": "packing", "action": "resume", "version": order.version},
            )
        )
        return turn.accept("order_resumed", env["seq"], order)
    order.bench_id = bench.bench_id if order.status is Status.PENDING else order.bench_id
    applied = turn.move(order, Action.OPEN, facts, data=turn.scan_data() | {"bench": bench.bench_id})
    if applied.refusal is not None:
        return turn.refuse_applied(order, applied.refusal, applied.seq)
    bench.order_id = order.order_id
    bench.qty_next = None
    return turn.accept("order_opened", applied.seq, order)


def verify_item(turn: Turn) -> ScanOutcome:
    """An item code: count it against the line of the open order it belongs to (the armed quantity, else 1)."""
    tx, bench = turn.tx, turn.bench
    item = turn.scan.reading.item
    assert item is not None
    order = turn.bench_order()
    if order is None:
        # A product (a GTIN or GS1 code) asks for its order first; a code only an internal-SKU pattern would
        # take is more likely a number the station does not know: say so instead of asking for an order.
        is_product = item.gtin14 is not None or item.is_gs1
        return turn.refuse("no_open_order" if is_product else "unknown_code")
    if order.status is not Status.PACKING:
        reason = {Status.CANCELLED: "order_cancelled", Status.ON_HOLD: "order_on_hold"}.get(
            order.status, "order_not_packing"
        )
        return turn.refuse(reason, order.order_id)
    put_backs = outstanding_put_backs(tx.repo.db, order.order_id)
    if put_backs and (taken := put_back.scan_out(turn, order, item, put_backs)) is not None:
        return taken
    match = match_line(order, item)
    if match is None:
        expected = [ln.sku for ln in order.lines if ln.remaining > 0]
        return turn.refuse("wrong_item", order.order_id, expected=expected)
    line = match.line
    qty = bench.qty_next or 1
    data = {"line_no": line.line_no, "sku": line.sku}
    if line.serialized and match.unit_key is None:
        return turn.refuse("serial_required", order.order_id, **data)
    if match.unit_key is not None and qty > 1:
        bench.qty_next = None
        return turn.refuse("qty_not_allowed_for_serialized", order.order_id, **data)
    if match.unit_key is not None and tx.repo.unit_seen(order.order_id, match.unit_key):
        return turn.refuse("same_unit_twice", order.order_id, unit=match.unit_key, **data)
    if line.verified + qty > line.qty:
        bench.qty_next = None
        return turn.refuse("over_quantity", order.order_id, verified=line.verified, qty=line.qty, tried=qty, **data)
    line.verified += qty
    order.version += 1
    tx.repo.save_verified(order, tx.wall_now_ms(), line)
    env = tx.append(
        NewEvent(
            EventType.ITEM_VERIFIED,
            turn.actor,
            order.order_id,
            turn.scan_data()
            | data
            | {
                "qty": qty,
                "verified": line.verified,
                "of": line.qty,
                "gift": line.is_gift,
                "serial": item.serial,
                "batch": item.batch,
                "expiry": item.expiry.isoformat() if item.expiry else None,
            },
        )
    )
    if match.unit_key is not None:
        tx.repo.record_unit(order.order_id, match.unit_key, line.line_no, env["seq"])
    bench.qty_next = None
    return turn.accept(
        "item_verified",
        env["seq"],
        order,
        line_no=line.line_no,
        verified=line.verified,
        of=line.qty,
        all_verified=order.all_verified,
    )


def complete(turn: Turn, order: Order, *, auto: bool, waiver: evidence.Waiver | None = None) -> ScanOutcome:
    """Mark the open order packed with the scan's evidence (CMD:COMPLETE, CMD:OVERRIDE, or `auto` after the
    last item). A supervisor's `waiver` stands in for a missing packing photo."""
    found = turn.scan.evidence
    if found is None:
        found = evidence.not_gathered(turn.devices(), order)
    actor = turn.actor
    pending = bool(outstanding_put_backs(turn.tx.repo.db, order.order_id))
    facts = Facts(actor_role=turn.role, weight=found.weight, photo=found.photo, put_back_pending=pending)
    if found.weight_g is not None:
        order.measured_weight_g = found.weight_g
    if found.photo_ref is not None:
        order.photo_ref = found.photo_ref
    data: dict[str, Any] = {"auto": auto, "measured_weight_g": found.weight_g, "photo_ref": found.photo_ref}
    if waiver is not None and found.photo is Evidence.MISSING:
        # The supervisor answers for the box: they are the actor, and the waiver is in the event.
        actor = waiver.supervisor
        facts = Facts(actor_role=Role.SUPERVISOR, weight=found.weight, photo=Evidence.WAIVED, put_back_pending=pending)
        data |= {"photo_waived_by": waiver.supervisor.id, "waiver_reason": waiver.reason}
    if auto:
        # A failed auto-complete is not a packer error: record nothing, report what is awaited.
        decision = decide(order, Action.COMPLETE, facts)
        if not decision.allowed:
            return ScanOutcome("refused", "item", Feedback.OK, decision.refusal, order.order_id, order.status)
    order.packed_by = turn.bench.operator_badge
    applied = turn.move(order, Action.COMPLETE, facts, actor=actor, data=data | ({} if auto else turn.scan_data()))
    if applied.refusal is not None:
        missing = [ln.sku for ln in order.lines if ln.verified < ln.qty]
        return turn.refuse_applied(order, applied.refusal, applied.seq, missing=missing)
    return turn.accept("order_packed", applied.seq, order)


def after_auto_complete(item_outcome: ScanOutcome, done: ScanOutcome) -> ScanOutcome:
    """The answer to the item scan that verified the last line, once `complete(auto=True)` gave `done`."""
    if not done.accepted:  # e.g. the scale has not settled: the item still counted; the packer completes later
        return dataclasses.replace(item_outcome, reason=None, detail=item_outcome.detail | {"awaiting": done.reason})
    return ScanOutcome("accepted", "item", Feedback.OK, None, done.order_id, done.status, done.seq, "order_packed")


def abort(turn: Turn, order: Order, reason: str) -> ScanOutcome:
    """CMD:ABORT[:reason]: the order goes back to pending and its verified items back to the shelf."""
    bench = turn.bench
    returned = {ln.line_no: ln.verified for ln in order.lines if ln.verified}
    facts = Facts(actor_role=turn.role, reason=reason)
    applied = turn.move(order, Action.ABORT, facts)
    if applied.refusal is not None:
        return turn.refuse(applied.refusal, order.order_id)
    return_items(turn.tx, order, turn.actor, returned)
    bench.order_id = None
    bench.qty_next = None
    return turn.accept("order_aborted", applied.seq, order, returned=returned)


def return_items(tx: Tx, order: Order, actor: Actor, returned: dict[int, int]) -> None:
    """Record that an order's verified items went back (abort), and reset its counts."""
    tx.repo.db.execute("DELETE FROM put_backs WHERE order_id = ?", [order.order_id])  # the whole box is emptied
    for line in order.lines:
        line.verified = 0
    order.version += 1
    tx.repo.save_order_state(order, tx.wall_now_ms())
    units = tx.repo.forget_units(order.order_id)
    if returned:
        tx.append(
            NewEvent(
                EventType.ITEMS_RETURNED,
                actor,
                order.order_id,
                {"lines": {str(k): v for k, v in returned.items()}, "units": units},
            )
        )
