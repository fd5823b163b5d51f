"""Commands a supervisor authorises at the bench: CMD:REOPEN, CMD:REPRINT and CMD:OVERRIDE.

Scanned by a supervisor they take effect at once. Scanned by a packer they are armed (`bench.reopen_requested`
event; the bench shows "supervisor needed") until a supervisor's badge within `[workflow]
reopen_authorisation_s` carries them out (docs/orders.md, "Scans").
"""

import logging

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import Bench, Feedback, Role, Status
from station.scan import Command
from station.workflow import labels, packing
from station.workflow.evidence import Waiver
from station.workflow.outcome import ScanOutcome
from station.workflow.settings import WorkflowSettings
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)

# What a supervisor may authorise, and the statuses of the bench's order it applies to.
AUTHORISED_STATUSES: dict[str, tuple[Status, ...]] = {
    "reopen": (Status.PACKED, Status.LABELED),
    "reprint": (Status.PACKED,),
    "override": (Status.PACKING,),
}


def request(turn: Turn, command: Command) -> ScanOutcome:
    """CMD:REOPEN / CMD:REPRINT / CMD:OVERRIDE[:reason]: done at once by a supervisor, else armed until a
    supervisor badge."""
    what = command.verb.lower()
    bench = turn.bench
    order = turn.bench_order()
    if order is None or order.status not in AUTHORISED_STATUSES[what]:
        return turn.refuse(f"nothing_to_{what}")
    if what == "override" and not order.all_verified:
        return turn.refuse("lines_incomplete", order.order_id)
    if bench.operator_role is Role.SUPERVISOR:
        return _carry_out(turn, turn.actor, what, command.arg)
    bench.reopen_requested_ms = turn.tx.wall_now_ms()
    bench.authorisation_for = what
    env = turn.tx.append(
        NewEvent(
            EventType.REOPEN_REQUESTED,
            turn.actor,
            order.order_id,
            {"authorise": what, "reason": command.arg},
        )
    )
    turn.tx.repo.save_bench(bench)
    return ScanOutcome(
        "accepted",
        "command",
        Feedback.NEEDS_SUPERVISOR,
        None,
        order.order_id,
        order.status,
        env["seq"],
        f"{what}_requested",
    )


def awaits_supervisor(bench: Bench, now_ms: int, settings: WorkflowSettings) -> bool:
    """Whether the bench armed a request that a supervisor's badge scanned now would still authorise."""
    requested_ms = bench.reopen_requested_ms
    return requested_ms is not None and now_ms - requested_ms <= settings.reopen_authorisation_s * 1000


def grant(turn: Turn, badge: str, now_ms: int) -> ScanOutcome:
    """A supervisor's badge within the window: carry out what the bench asked for, as the supervisor."""
    bench = turn.bench
    what = bench.authorisation_for or "reopen"  # benches armed before requests said what they were for
    bench.reopen_requested_ms = bench.authorisation_for = None
    bench.last_activity_ms = now_ms
    supervisor = Actor(role=Role.SUPERVISOR.value, id=badge, device=turn.scan.device, bench=turn.scan.bench_id)
    reason = turn.tx.repo.authorisation_reason(bench.order_id) if bench.order_id else None
    return _carry_out(turn, supervisor, what, reason)


def _carry_out(turn: Turn, supervisor: Actor, what: str, reason: str | None) -> ScanOutcome:
    """Carry out what a supervisor authorised at the bench."""
    if what == "reprint":
        return labels.reprint(turn, supervisor, reason or "reprint authorised at bench")
    if what == "override":
        order = turn.bench_order()
        if order is None or order.status is not Status.PACKING:
            return turn.refuse("nothing_to_override")
        waiver = Waiver(supervisor, reason or "photo waived at bench")
        return packing.complete(turn, order, auto=False, waiver=waiver)
    return _reopen(turn, supervisor, reason or "reopened_at_bench")


def _reopen(turn: Turn, supervisor: Actor, reason: str) -> ScanOutcome:
    """Reopen the bench's packed or labeled order for packing."""
    order = turn.bench_order()
    if order is None:
        return turn.refuse("nothing_to_reopen")
    facts = Facts(actor_role=Role.SUPERVISOR, reason=reason)
    applied = turn.move(order, Action.REOPEN, facts, actor=supervisor, data=turn.scan_data())
    if applied.refusal is not None:
        return turn.refuse(applied.refusal, order.order_id)
    return turn.accept("order_reopened", applied.seq, order)
