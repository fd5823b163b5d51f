"""Who is at the bench: badge login (or a supervisor's authorisation), CMD:LOGOUT, and the idle lock.

Every scan but a badge needs someone logged in; every scan an operator makes keeps the session alive. A bench
left alone longer than `[workflow] idle_lock_s` logs its operator out, on the next scan or on the periodic tick.
"""

import logging

from station.events import Actor, EventType, NewEvent
from station.orders.model import Bench, Role
from station.scan import Command
from station.store import Tx
from station.workflow import authorisation
from station.workflow.outcome import ScanOutcome
from station.workflow.settings import WorkflowSettings
from station.workflow.turn import Turn

logger = logging.getLogger(__name__)


def _forget_operator(bench: Bench) -> None:
    """Nobody is logged in any more: an armed quantity and a supervisor request go with the operator."""
    bench.operator_badge = None
    bench.operator_role = None
    bench.qty_next = None
    bench.reopen_requested_ms = None


def apply_idle_lock(tx: Tx, bench: Bench, settings: WorkflowSettings) -> None:
    """Log the operator out if the bench has been idle longer than `idle_lock_s` (0: never)."""
    if bench.operator_badge is None or settings.idle_lock_s <= 0:
        return
    idle_ms = tx.wall_now_ms() - bench.last_activity_ms
    if idle_ms <= settings.idle_lock_s * 1000:
        return
    actor = Actor(role=Role.SYSTEM.value, bench=bench.bench_id)
    tx.append(
        NewEvent(
            EventType.OPERATOR_LOGGED_OUT,
            actor,
            bench.order_id,
            {"badge": bench.operator_badge, "reason": "idle_timeout", "idle_s": idle_ms // 1000},
        )
    )
    _forget_operator(bench)
    tx.repo.save_bench(bench)


def scan_badge(turn: Turn) -> ScanOutcome:
    """A badge: a supervisor answering the bench's request, the same operator again, or a (new) login."""
    tx, bench = turn.tx, turn.bench
    badge = turn.scan.reading.badge or turn.scan.reading.text
    operator = tx.repo.operator(badge)
    if operator is None or not operator.active:
        return turn.refuse("unknown_badge", badge=badge)
    if operator.role is Role.SUPERVISOR and turn.scan.via_api and not turn.context.settings.api_supervisor_badges:
        # Whoever holds the bench's token could post any badge code: a supervisor's approval needs the badge
        # itself, read by the bench's scanner.
        return turn.refuse("supervisor_badge_needs_scanner", badge=badge)
    now = tx.wall_now_ms()
    if operator.role is Role.SUPERVISOR and authorisation.awaits_supervisor(bench, now, turn.context.settings):
        return authorisation.grant(turn, badge, now)
    if bench.operator_badge == badge:
        bench.last_activity_ms = now
        return turn.accept("logged_in", None, turn.bench_order())
    if bench.operator_badge is not None:
        tx.append(
            NewEvent(
                EventType.OPERATOR_LOGGED_OUT,
                turn.actor,
                None,
                {"badge": bench.operator_badge, "reason": "replaced"},
            )
        )
    bench.operator_badge = badge
    bench.operator_role = operator.role
    bench.last_activity_ms = now
    bench.qty_next = None
    bench.reopen_requested_ms = None
    env = tx.append(
        NewEvent(
            EventType.OPERATOR_LOGGED_IN,
            turn.actor,
            None,
            {"badge": badge, "name": operator.name, "role": operator.role.value},
        )
    )
    return turn.accept("logged_in", env["seq"], turn.bench_order(), name=operator.name)


def log_out(turn: Turn, command: Command) -> ScanOutcome:
    """CMD:LOGOUT."""
    env = turn.tx.append(
        NewEvent(
            EventType.OPERATOR_LOGGED_OUT,
            turn.actor,
            None,
            {"badge": turn.bench.operator_badge, "reason": "logout"},
        )
    )
    _forget_operator(turn.bench)
    return turn.accept("logged_out", env["seq"])
