"""Applying a lifecycle decision inside a transaction: the status change and its event, or the refusal and its.

Every caller that moves an order (bench scans, supervisor and hub actions) goes through `apply_action`, so a
status never changes without its event and a refusal is never silent.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts, decide
from station.orders.model import Order, Status
from station.store import Tx


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply_action` did: `refusal` is None when the order moved; `seq` is the event written."""

    seq: int
    refusal: str | None
    status: Status


def apply_action(
    tx: Tx,
    order: Order,
    action: Action,
    facts: Facts,
    actor: Actor,
    *,
    refusal_event: str = EventType.ACTION_REFUSED,
    data: Mapping[str, Any] | None = None,
) -> Applied:
    """Decide `action` on `order`; record the status change or the refusal; persist the order if it moved."""
    decision = decide(order, action, facts)
    extra = dict(data or {})
    if facts.reason:
        extra.setdefault("reason_text", facts.reason)
    if decision.refusal is not None or decision.target is None:
        reason = decision.refusal or "invalid_transition"
        env = tx.append(
            NewEvent(
                refusal_event,
                actor,
                order.order_id,
                {"action": action.value, "reason": reason, "status": order.status.value, **extra},
            )
        )
        return Applied(env["seq"], reason, order.status)
    previous = order.status
    if action is Action.HOLD:
        order.held_from = previous
    elif action is Action.RELEASE:
        order.held_from = None
    order.status = decision.target
    order.version += 1
    order.status_since_ms = tx.wall_now_ms()
    tx.repo.save_order_state(order, order.status_since_ms)
    env = tx.append(
        NewEvent(
            EventType.STATUS_CHANGED,
            actor,
            order.order_id,
            {
                "from": previous.value,
                "to": order.status.value,
                "action": action.value,
                "version": order.version,
                **extra,
            },
        )
    )
    return Applied(env["seq"], None, order.status)
