"""The shipping label: its waybill scanned back onto the packed order (`label`), and an authorised reprint.

Scanning the waybill on the applied label proves the right label is on the right box: a waybill of another
order is a label swap. With a printer configured, the label must also have been confirmed printed. At a dock
(a carrier batch open on the bench) a waybill scan is a hand-over instead (`station/workflow/dock.py`).
"""

import logging

from station.events import Actor
from station.orders.lifecycle import Action, Evidence, Facts
from station.orders.revision import voided_label_order
from station.workflow import dock
from station.workflow.outcome import ScanOutcome
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)


def scan_waybill(turn: Turn) -> ScanOutcome:
    """A waybill: label the bench's packed order with it, or hand its order over at a dock."""
    assert turn.scan.reading.waybill is not None
    tx, bench = turn.tx, turn.bench
    number = turn.scan.reading.waybill.number
    owner_id = tx.repo.order_id_by_waybill(number)
    if owner_id is None and (voided_for := voided_label_order(tx, number)) is not None:
        # A label printed before its order changed: it must not go on (or leave with) any box.
        return turn.refuse("label_voided", voided_for, waybill_no=number)
    if bench.batch_id is not None:
        return dock.hand_over(turn, owner_id)
    current = turn.bench_order()
    if current is None:
        # Every known waybill opens its order on a free bench (`resolve`): this one is of no order here.
        return turn.refuse("unknown_waybill", owner_id)
    if owner_id is not None and owner_id != current.order_id:
        return turn.refuse("waybill_mismatch", current.order_id, waybill_order=owner_id)
    devices = turn.devices()
    printed = Evidence.NOT_REQUIRED
    if devices.printer is not None:
        printed = Evidence.PRESENT if devices.printer.label_printed(current.order_id) else Evidence.MISSING
    facts = Facts(
        actor_role=turn.role,
        waybill_matches=current.waybill_no is not None and number == current.waybill_no,
        label_printed=printed,
    )
    applied = turn.move(current, Action.LABEL, facts, data=turn.scan_data() | {"waybill_no": number})
    if applied.refusal is not None:
        return turn.refuse_applied(current, applied.refusal, applied.seq)
    bench.order_id = None
    return turn.accept("order_labeled", applied.seq, current)


def reprint(turn: Turn, supervisor: Actor, reason: str) -> ScanOutcome:
    """Queue an audited reprint of the bench's order's label, as the supervisor who authorised it."""
    order = turn.bench_order()
    queue_reprint = turn.devices().reprint
    if order is None:
        return turn.refuse("nothing_to_reprint")
    if queue_reprint is None:
        return turn.refuse("no_printer", order.order_id)
    refusal = queue_reprint(turn.tx, order.order_id, supervisor, reason)
    if refusal is not None:
        return turn.refuse(refusal, order.order_id)
    events = turn.tx.events
    return turn.accept("reprint_queued", events[-1]["seq"] if events else None, order)
