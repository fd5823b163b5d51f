"""Two supervisor writes checked against the order version the caller read (HTTP `If-Match`), each in one
transaction: cancelling an order at the station, and reprinting its label.

`station.orders.actions.perform_action` does this for hold, release, reopen and abort. The hub's cancellation
(`station.orders.intake.cancel_order`) and the reprint (`station.printing.request_reprint`) take no version.
Both are applied here through the very same steps — `intake.intercept` with the caller's own role, so the
lifecycle table's guard decides, and `reprint_in` in the caller's transaction — with the version check in
front, so that nothing a supervisor did not see is overwritten.
"""

from station.events import Actor, EventType, NewEvent
from station.orders.actions import ActionResult
from station.orders.intake import intercept
from station.orders.lifecycle import Action, Facts
from station.orders.model import Order, Role
from station.printing import PrintRequest, reprint_in
from station.store import Store, Tx


def _stale(tx: Tx, order: Order, actor: Actor, action: str, expected_version: int) -> int | None:
    """Record the refusal of an action against an old version (as `perform_action` does); None if current."""
    if expected_version == order.version:
        return None
    env = tx.append(
        NewEvent(
            EventType.ACTION_REFUSED,
            actor,
            order.order_id,
            {
                "action": action,
                "reason": "version_conflict",
                "expected_version": expected_version,
                "version": order.version,
            },
        )
    )
    return env["seq"]


def cancel_at_station(
    store: Store, order_id: str, actor: Actor, *, reason: str | None, expected_version: int
) -> ActionResult:
    """Cancel an order on behalf of `actor` (a supervisor at the station), if it is still at `expected_version`.

    The lifecycle decides with the actor's role (a supervisor must give a reason). The order is intercepted as
    a hub cancellation intercepts it: the status change carries `interception`, the bench and what was
    verified, so the workflow's subscriber sounds the `blocked` alarm at that bench; the bench keeps showing
    the order, so that every scan for it is refused as `order_cancelled` until the next order is opened.
    """
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            return ActionResult(order_id, "unknown_order", None, None, None)
        stale_seq = _stale(tx, order, actor, Action.CANCEL.value, expected_version)
        if stale_seq is not None:
            return ActionResult(order_id, "version_conflict", order.status, order.version, stale_seq)
        # The hub's interception (`intake.intercept`), decided with the supervisor's own role.
        applied = intercept(tx, order, Facts(actor_role=Role(actor.role), reason=reason), actor)
        return ActionResult(order_id, applied.refusal, order.status, order.version, applied.seq)


def reprint_at_version(
    store: Store,
    order_id: str,
    actor: Actor,
    reason: str,
    *,
    expected_version: int,
    rerender: bool,
    printer: str | None,
) -> tuple[PrintRequest | None, ActionResult | None]:
    """Queue a reprint of the order's label if the order is still at `expected_version`.

    Returns the print request, or (None, the refusal) when the order is unknown or has changed.
    """
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            return None, ActionResult(order_id, "unknown_order", None, None, None)
        stale_seq = _stale(tx, order, actor, "reprint_label", expected_version)
        if stale_seq is not None:
            return None, ActionResult(order_id, "version_conflict", order.status, order.version, stale_seq)
        return reprint_in(tx, order_id, actor, reason, rerender=rerender, printer=printer), None
