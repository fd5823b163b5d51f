"""What a bench is told without a scan: its order was cancelled, put on hold or changed from elsewhere.

The hub cancels or revises an order, a supervisor holds it: the bench it is on learns it at once, on every
surface (stack light, buzzer, and the bench screen's answer area), as a `notice` in place of a scan answer.
The notice carries what the packer must do: for a revision, the difference (`order.revised`'s data).
"""

from station.events import Envelope, EventType
from station.orders.model import Feedback, Status
from station.store import Store
from station.workflow.outcome import ScanOutcome

_REVISION_DETAIL = (
    "added",
    "removed",
    "qty_changed",
    "address_changed",
    "carrier_changed",
    "waybill_changed",
    "put_back",
    "label_voided",
)


def notice_for(env: Envelope, store: Store) -> tuple[str, ScanOutcome] | None:
    """The bench to tell about this committed event, and what to tell it; None when no bench needs to know."""
    data = env["data"]
    order_id = env["order_id"]
    if env["type"] == EventType.ORDER_REVISED and data.get("bench"):
        repack = data["from_status"] != data["status"]
        outcome = ScanOutcome(
            "notice",
            "order",
            Feedback.ORDER_CHANGED,
            "order_changed",
            order_id,
            Status(data["status"]),
            env["seq"],
            "order_changed_repack" if repack else "order_changed",
            {key: data[key] for key in _REVISION_DETAIL},
        )
        return str(data["bench"]), outcome
    if env["type"] != EventType.STATUS_CHANGED or order_id is None:
        return None
    if data.get("to") == Status.CANCELLED and data.get("bench"):
        cancelled = Status.CANCELLED
        return str(data["bench"]), ScanOutcome(
            "notice", "order", Feedback.BLOCKED, "order_cancelled", order_id, cancelled, env["seq"]
        )
    if data.get("to") == Status.ON_HOLD and env["actor"]["bench"] is None:
        # Held from the API or by the hub (a hold scanned at the bench is answered there already).
        with store.reading() as repo:
            benches = repo.bench_ids_with_order(order_id)
        if benches:
            held = Status.ON_HOLD
            return benches[0], ScanOutcome(
                "notice", "order", Feedback.BLOCKED, "order_on_hold", order_id, held, env["seq"]
            )
    return None
