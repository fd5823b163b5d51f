"""Applying priority inside transactions: on intake, on explicit overrides, on rule changes; the S breaker.

The S-escalation breaker (docs/orders.md, "Priority and alerts"): when more than `s_waiting_max` S orders are
waiting, new S escalations are refused for `s_breaker_h` unless a supervisor lifts it. A rule that would make an
order S while the breaker is tripped gives A instead, and the refusal is an event; an explicit S request is
refused.
"""

from dataclasses import dataclass

from station.events import Actor, NewEvent
from station.orders.model import Order, Status
from station.priority.rules import PrioritySettings, evaluate
from station.store import Store, Tx

BREAKER_KEY = "priority_breaker_until_ms"
OPEN_STATUSES = (Status.PENDING, Status.PACKING, Status.PACKED, Status.ON_HOLD)


class PriorityEvent:
    """Event types of the priority engine."""

    CHANGED = "priority.changed"
    ESCALATION_REFUSED = "priority.escalation_refused"
    BREAKER_TRIPPED = "priority.breaker_tripped"
    BREAKER_LIFTED = "priority.breaker_lifted"


def breaker_until_ms(tx: Tx) -> int:
    """When the S breaker ends (0 = not tripped)."""
    row = next(tx.repo.db.query("SELECT value FROM meta WHERE key = ?", [BREAKER_KEY]), None)
    return int(row["value"]) if row else 0


def _set_breaker(tx: Tx, until_ms: int) -> None:
    tx.repo.db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [BREAKER_KEY, str(until_ms)],
    )


def trip_breaker(tx: Tx, settings: PrioritySettings, actor: Actor, waiting_s: int) -> None:
    """Refuse new S escalations for the configured time (recorded)."""
    until = tx.wall_now_ms() + int(settings.s_breaker_h * 3600_000)
    _set_breaker(tx, until)
    tx.append(NewEvent(PriorityEvent.BREAKER_TRIPPED, actor, None, {"until_ms": until, "s_waiting": waiting_s}))


def lift_breaker(store: Store, actor: Actor) -> bool:
    """A supervisor lifts the breaker; False if it was not tripped."""
    with store.transaction() as tx:
        if breaker_until_ms(tx) <= tx.wall_now_ms():
            return False
        _set_breaker(tx, 0)
        tx.append(NewEvent(PriorityEvent.BREAKER_LIFTED, actor, None, {}))
        return True


def assign(tx: Tx, order: Order, settings: PrioritySettings, actor: Actor) -> bool:
    """(Re)compute an order's level; record a change. Returns True when the level or rule changed.

    The caller persists the order (insert or save) afterwards.
    """
    decision = evaluate(order.document, settings, order.priority_override)
    level, rule = decision.level, decision.rule
    breaker = breaker_until_ms(tx) > tx.wall_now_ms()
    if level == "S" and order.priority != "S" and breaker:
        tx.append(
            NewEvent(
                PriorityEvent.ESCALATION_REFUSED, actor, order.order_id, {"rule": rule, "wanted": "S", "given": "A"}
            )
        )
        level, rule = "A", f"{rule}+s_breaker"
    if (level, rule) == (order.priority, order.priority_rule):
        return False
    previous = order.priority if order.priority_rule else None  # a new order has no level yet
    order.priority, order.priority_rule = level, rule
    tx.append(NewEvent(PriorityEvent.CHANGED, actor, order.order_id, {"from": previous, "to": level, "rule": rule}))
    return True


@dataclass(frozen=True, slots=True)
class PriorityResult:
    """Outcome of an explicit priority request."""

    refusal: str | None
    level: str | None
    version: int | None


def set_priority(
    store: Store,
    order_id: str,
    level: str | None,
    actor: Actor,
    settings: PrioritySettings,
    expected_version: int | None = None,
) -> PriorityResult:
    """The hub or a supervisor sets a level explicitly (None returns the order to its rules)."""
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            return PriorityResult("unknown_order", None, None)
        if expected_version is not None and expected_version != order.version:
            return PriorityResult("version_conflict", order.priority, order.version)
        if order.status in (Status.HANDED_OVER, Status.CANCELLED):
            return PriorityResult("order_closed", order.priority, order.version)
        if level == "S" and order.priority != "S" and breaker_until_ms(tx) > tx.wall_now_ms():
            tx.append(
                NewEvent(
                    PriorityEvent.ESCALATION_REFUSED,
                    actor,
                    order_id,
                    {"rule": "override", "wanted": "S", "given": None},
                )
            )
            return PriorityResult("s_breaker_tripped", order.priority, order.version)
        order.priority_override = level
        assign(tx, order, settings, actor)
        order.version += 1
        tx.repo.save_order_state(order, tx.wall_now_ms())
        return PriorityResult(None, order.priority, order.version)


def reevaluate_open_orders(store: Store, settings: PrioritySettings, actor: Actor) -> int:
    """Rules changed (e.g. the hub's config.set): recompute every open order; return how many changed."""
    changed = 0
    with store.reading() as repo:
        ids = [
            r["order_id"]
            for r in repo.db.query(
                f"SELECT order_id FROM orders WHERE status IN ({','.join('?' * len(OPEN_STATUSES))})",  # noqa: S608
                [s.value for s in OPEN_STATUSES],
            )
        ]
    for order_id in ids:
        with store.transaction() as tx:
            order = tx.repo.order(order_id)
            if order is not None and assign(tx, order, settings, actor):
                order.version += 1
                tx.repo.save_order_state(order, tx.wall_now_ms())
                changed += 1
    return changed
