"""Events: the envelope every change and refusal is recorded in, and the SHA-256 chain that seals the log.

An event row is also the outbox row the sync agent publishes (cloud_sync/CONTRACT.md). Each event's `hash`
covers its own fields and the previous event's hash, so removing, reordering or editing any event breaks
verification from that point on.

The shapes are the wire contract, so they are defined once, in `cloud_sync.events`: `Envelope` (what
`Tx.append` returns and subscribers receive) and `ActorDict` are re-exported here; each type's data has its
TypedDict there (`EVENT_DATA`), and the station's tests check every event written against it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The hash chain is part of the wire contract the hub verifies, so it is defined once, in cloud_sync.chain
# (plain hashlib/json, no network code).
from cloud_sync.chain import event_hash, genesis_hash
from cloud_sync.events import ActorDict, Envelope

__all__ = ["SYSTEM", "Actor", "ActorDict", "ChainReport", "Envelope", "EventType", "NewEvent", "verify_chain"]


class EventType:
    """Event type names (the contract with the hub)."""

    ORDER_RECEIVED = "order.received"
    ORDER_UPDATED = "order.updated"
    ORDER_REFUSED = "order.refused"
    ORDER_REVISED = "order.revised"
    CANCEL_RECORDED = "order.cancel_recorded"
    STATUS_CHANGED = "order.status_changed"
    ITEM_VERIFIED = "item.verified"
    ITEMS_RETURNED = "item.returned"
    ITEM_PUT_BACK = "item.put_back"
    SCAN_REJECTED = "scan.rejected"
    ACTION_REFUSED = "action.refused"
    OPERATOR_LOGGED_IN = "operator.logged_in"
    OPERATOR_LOGGED_OUT = "operator.logged_out"
    OPERATOR_ADDED = "operator.added"
    QTY_ARMED = "bench.qty_armed"
    REOPEN_REQUESTED = "bench.reopen_requested"
    BATCH_OPENED = "batch.opened"
    BATCH_CLOSED = "batch.closed"
    EVIDENCE_STORED = "evidence.stored"
    CLIP_READY = "clip.ready"
    DISPUTE_FLAGGED = "order.dispute_flagged"
    DISPUTE_CLEARED = "order.dispute_cleared"
    ALERT_RAISED = "alert.raised"
    ALERT_CLEARED = "alert.cleared"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event: operator id, role, and the device / bench it came through."""

    role: str
    id: str | None = None
    device: str | None = None
    bench: str | None = None

    def as_dict(self) -> ActorDict:
        """Wire form."""
        return {"id": self.id, "role": self.role, "device": self.device, "bench": self.bench}


SYSTEM = Actor(role="system")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended; the store assigns seq, ids, clock and hashes."""

    type: str
    actor: Actor
    order_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify_chain` found."""

    events: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    gaps: tuple[tuple[int, int], ...] = ()  # missing seq ranges, inclusive
    head_hash: str | None = None


def verify_chain(envelopes: Iterable[Mapping[str, Any]], stream_epoch: str, *, first_seq: int = 1) -> ChainReport:
    """Check seq continuity, each event's hash, and the link to its predecessor.

    `first_seq` allows verifying a log whose oldest (acknowledged) events were pruned: the first event
    present is then trusted as the anchor of the chain.
    """
    expected_seq = first_seq
    prev: str | None = genesis_hash(stream_epoch) if first_seq == 1 else None
    count = 0
    gaps: list[tuple[int, int]] = []
    first_bad: int | None = None
    problem: str | None = None
    for env in envelopes:
        count += 1
        seq = int(env["seq"])
        if seq != expected_seq:
            gaps.append((expected_seq, seq - 1))
            prev = None  # the link across a gap cannot be checked
        if first_bad is None:
            if env["stream_epoch"] != stream_epoch:
                first_bad, problem = seq, "wrong_stream_epoch"
            elif event_hash(env) != env["hash"]:
                first_bad, problem = seq, "hash_mismatch"
            elif prev is not None and env["prev_hash"] != prev:
                first_bad, problem = seq, "broken_link"
        prev = str(env["hash"])
        expected_seq = seq + 1
    ok = first_bad is None and not gaps
    if gaps and problem is None:
        problem = "seq_gap"
    return ChainReport(count, ok, first_bad, problem, tuple(gaps), prev)
