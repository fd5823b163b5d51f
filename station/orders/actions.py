"""Order actions taken from outside the bench scan path: supervisors (API) and the hub.

Each action checks the caller's expected order version (HTTP `If-Match`) inside the transaction, so two
people acting on the same order cannot overwrite each other; a conflict is refused and recorded.
"""

from dataclasses import dataclass
from typing import Any

from station.events import Actor, EventType, NewEvent
from station.orders.lifecycle import Action, Facts
from station.orders.model import Role, Status
from station.orders.transitions import apply_action
from station.store import Store
from station.workflow.bench import return_items

ORDER_ACTIONS = (Action.HOLD, Action.RELEASE, Action.REOPEN, Action.ABORT)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of an order action."""

    order_id: str
    refusal: str | None
    status: Status | None
    version: int | None
    seq: int | None

    @property
    def ok(self) -> bool:
        """True when the order moved."""
        return self.refusal is None


def perform_action(
    store: Store,
    order_id: str,
    action: Action,
    actor: Actor,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Hold, release, reopen or abort an order on behalf of a supervisor or the hub."""
    if action not in ORDER_ACTIONS:
        raise ValueError(f"{action} is not an order action")
    role = Role(actor.role)
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            return ActionResult(order_id, "unknown_order", None, None, None)
        if expected_version is not None and expected_version != order.version:
            env = tx.append(
                NewEvent(
                    EventType.ACTION_REFUSED,
                    actor,
                    order_id,
                    {
                        "action": action.value,
                        "reason": "version_conflict",
                        "expected_version": expected_version,
                        "version": order.version,
                    },
                )
            )
            return ActionResult(order_id, "version_conflict", order.status, order.version, env["seq"])
        returned = {ln.line_no: ln.verified for ln in order.lines if ln.verified}
        data: dict[str, Any] = {}
        applied = apply_action(tx, order, action, Facts(actor_role=role, reason=reason), actor, data=data)
        if applied.refusal is None:
            benches = tx.repo.bench_ids_with_order(order_id)
            # A held order stays on its bench, which refuses its scans (`order_on_hold`) until it is released
            # or the next order is opened; an aborted one leaves it.
            if action is Action.ABORT:
                for bench_id in benches:
                    bench = tx.repo.bench(bench_id)
                    bench.order_id = None
                    bench.qty_next = None
                    tx.repo.save_bench(bench)
            if action is Action.ABORT:
                return_items(tx, order, actor, returned)
            if action is Action.REOPEN and order.bench_id:
                bench = tx.repo.bench(order.bench_id)
                if bench.order_id in (None, order_id):
                    bench.order_id = order_id
                    tx.repo.save_bench(bench)
        return ActionResult(order_id, applied.refusal, order.status, order.version, applied.seq)
