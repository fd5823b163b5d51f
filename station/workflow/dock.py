"""The dock: carrier batches (CMD:BATCH:<carrier>, CMD:BATCH:CLOSE) and the hand-over of labeled orders.

A bench with an open batch is a dock: it takes waybills only, and each labeled order of the batch's carrier
scanned there is handed over into the batch (docs/orders.md, "Lifecycle").
"""

import logging
from typing import Any

from station.events import EventType, NewEvent
from station.ids import uuid7
from station.orders.lifecycle import Action, Facts
from station.orders.model import CarrierBatch
from station.scan import Command
from station.workflow.outcome import ScanOutcome
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)


def batch_command(turn: Turn, command: Command) -> ScanOutcome:
    """CMD:BATCH:<carrier> opens a batch for a carrier of the `[scan]` waybill patterns; CMD:BATCH:CLOSE
    closes the bench's batch."""
    tx, bench = turn.tx, turn.bench
    arg = command.arg
    if arg is None:
        return turn.refuse("bad_command_argument")
    if arg.upper() == "CLOSE":
        return _close_batch(turn)
    carrier = arg.upper()
    if carrier not in {c.upper() for c in turn.context.rules.waybill_patterns}:
        return turn.refuse("unknown_carrier", carrier=carrier)
    if bench.batch_id is not None:
        return turn.refuse("batch_already_open", batch_id=bench.batch_id)
    batch = CarrierBatch(str(uuid7()), carrier, bench.bench_id, tx.wall_now_ms())
    tx.repo.insert_batch(batch)
    bench.batch_id = batch.batch_id
    seq = _record(turn, EventType.BATCH_OPENED, {"batch_id": batch.batch_id, "carrier": carrier})
    return turn.accept("batch_opened", seq, batch_id=batch.batch_id, carrier=carrier)


def _record(turn: Turn, event_type: str, data: dict[str, Any]) -> int:
    """Append a batch event (it concerns no single order); its seq."""
    env = turn.tx.append(NewEvent(event_type, turn.actor, None, data))
    return int(env["seq"])


def _close_batch(turn: Turn) -> ScanOutcome:
    tx, bench = turn.tx, turn.bench
    if bench.batch_id is None:
        return turn.refuse("no_open_batch")
    count = tx.repo.close_batch(bench.batch_id, tx.wall_now_ms())
    seq = _record(turn, EventType.BATCH_CLOSED, {"batch_id": bench.batch_id, "orders": count})
    bench.batch_id = None
    return turn.accept("batch_closed", seq, orders=count)


def hand_over(turn: Turn, order_id: str | None) -> ScanOutcome:
    """A waybill at the dock: hand its order (`order_id`, None if no order has it) over into the open batch."""
    tx, bench = turn.tx, turn.bench
    order = tx.repo.order(order_id) if order_id else None
    if order is None:
        return turn.refuse("unknown_waybill")
    batch = tx.repo.batch(bench.batch_id or "")
    assert batch is not None
    facts = Facts(actor_role=turn.role, batch_carrier_matches=(order.carrier or "").upper() == batch.carrier)
    applied = turn.move(
        order,
        Action.HAND_OVER,
        facts,
        data=turn.scan_data() | {"batch_id": batch.batch_id, "carrier": batch.carrier},
    )
    if applied.refusal is not None:
        return turn.refuse_applied(order, applied.refusal, applied.seq)
    tx.repo.add_to_batch(batch.batch_id, order.order_id, applied.seq)
    return turn.accept("handed_over", applied.seq, order)
