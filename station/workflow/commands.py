"""The CMD verbs a packer scans (docs/orders.md, "Scans"): a table from verb to what it does.

Some verbs mean something whatever is on the bench (log out, batches, hold, the supervisor-authorised ones);
the others act on the order being packed, and with none open every such verb, known or not, is refused with
`no_open_order`.
"""

import logging
from collections.abc import Callable

from station.events import EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import Order, Status
from station.scan import Command
from station.workflow import authorisation, dock, packing, session
from station.workflow.outcome import ScanOutcome
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)


def run_command(turn: Turn) -> ScanOutcome:
    """A command scan: look its verb up in the tables and run it."""
    command = turn.scan.reading.command
    assert command is not None
    anytime = _ANYTIME.get(command.verb)
    if anytime is not None:
        return anytime(turn, command)
    order = turn.bench_order()
    if order is None or order.status is not Status.PACKING:
        return turn.refuse("no_open_order")
    while_packing = _WHILE_PACKING.get(command.verb)
    if while_packing is None:
        return turn.refuse("unknown_command")
    return while_packing(turn, order, command)


def _hold(turn: Turn, command: Command) -> ScanOutcome:
    """CMD:HOLD[:reason]: put the bench's order on hold; it leaves the bench."""
    bench = turn.bench
    order = turn.bench_order()
    if order is None:
        return turn.refuse("no_open_order")
    facts = Facts(actor_role=turn.role, reason=command.arg or "held_at_bench")
    applied = turn.move(order, Action.HOLD, facts, data=turn.scan_data())
    if applied.refusal is not None:
        return turn.refuse_applied(order, applied.refusal, applied.seq)
    if order.status in (Status.ON_HOLD, Status.PENDING, Status.CANCELLED):
        bench.order_id = None
        bench.qty_next = None
    return turn.accept("order_held", applied.seq, order)


def _arm_quantity(turn: Turn, order: Order, command: Command) -> ScanOutcome:
    """CMD:QTY:n: the next item scan counts as n units."""
    n = int(command.arg or "0")
    if not 1 <= n <= turn.context.settings.max_qty_multiplier:
        return turn.refuse("bad_command_argument", qty=n)
    turn.bench.qty_next = n
    env = turn.tx.append(NewEvent(EventType.QTY_ARMED, turn.actor, order.order_id, {"qty": n}))
    return turn.accept("qty_armed", env["seq"], order, qty=n)


def _complete(turn: Turn, order: Order, command: Command) -> ScanOutcome:
    """CMD:COMPLETE."""
    return packing.complete(turn, order, auto=False)


def _abort(turn: Turn, order: Order, command: Command) -> ScanOutcome:
    """CMD:ABORT[:reason]."""
    return packing.abort(turn, order, command.arg or "aborted_at_bench")


_ANYTIME: dict[str, Callable[[Turn, Command], ScanOutcome]] = {
    "LOGOUT": session.log_out,
    "BATCH": dock.batch_command,
    "REOPEN": authorisation.request,
    "REPRINT": authorisation.request,
    "OVERRIDE": authorisation.request,
    "HOLD": _hold,
}
_WHILE_PACKING: dict[str, Callable[[Turn, Order, Command], ScanOutcome]] = {
    "QTY": _arm_quantity,
    "COMPLETE": _complete,
    "ABORT": _abort,
}
