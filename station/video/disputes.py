"""Disputed orders: while an order is flagged, retention never deletes its clip or photos.

The rule is in docs/architecture.md, "Devices".

Flagging and unflagging are events on the order's timeline (who, when, why), so the hub and the evidence
bundle both show the dispute; the flag itself lives in ``video_clips.disputed``, where retention reads it.
"""

from station.events import Actor, EventType, NewEvent
from station.store import Store


def set_disputed(store: Store, order_id: str, disputed: bool, actor: Actor, reason: str) -> str | None:
    """Flag (``disputed=True``) or unflag the order; the refusal reason, or None when done.

    Refuses ``order_not_found`` for an order the station does not know and ``reason_required`` without a reason.
    Setting the flag it already has is accepted and records nothing.
    """
    if not reason.strip():
        return "reason_required"
    with store.transaction() as tx:
        if tx.repo.order(order_id) is None:
            return "order_not_found"
        row = next(tx.repo.db.query("SELECT disputed FROM video_clips WHERE order_id = ?", [order_id]), None)
        if row is not None and bool(row["disputed"]) == disputed:
            return None
        tx.repo.db.execute(
            "INSERT INTO video_clips (order_id, disputed) VALUES (?, ?) "
            "ON CONFLICT(order_id) DO UPDATE SET disputed = excluded.disputed",
            [order_id, int(disputed)],
        )
        kind = EventType.DISPUTE_FLAGGED if disputed else EventType.DISPUTE_CLEARED
        tx.append(NewEvent(kind, actor, order_id, {"reason": reason.strip()}))
    return None


def is_disputed(store: Store, order_id: str) -> bool:
    """Whether the order is flagged as disputed."""
    with store.reading() as repo:
        row = next(repo.db.query("SELECT disputed FROM video_clips WHERE order_id = ?", [order_id]), None)
    return row is not None and bool(row["disputed"])
