"""The work queue for PDAs: which pending order to work next, and claims with leases.

Order: level (S > A > B > C), then deadline (ship-by), then arrival — served straight from the `orders_queue`
index. A PDA's claim holds an order for `claim_lease_s`: until it ends, the order is not handed to another PDA
as its top.
"""

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from station.events import Actor, NewEvent
from station.orders.model import NO_DEADLINE_MS, Status
from station.priority.rules import PrioritySettings, sla_colour
from station.store import Store

SLA_COLOURS = ("red", "orange", "yellow", "green", "none")


class QueueEvent:
    """Event types of the queue."""

    CLAIMED = "queue.claimed"
    RELEASED = "queue.released"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One order in the queue, as a PDA shows it."""

    order_id: str
    level: str
    rule: str
    status: str
    version: int
    deadline: str | None
    seconds_left: int | None
    sla: str
    received_at: str
    claimed_by: str | None
    claim_expires_at: str | None
    why: list[str]

    def etag(self, clock_synced: bool) -> str:
        """Changes when what a PDA shows changes — not with the countdown, which the PDA runs itself.

        Whether the station's clock is synchronised is part of what the PDA shows (it decides how far the
        countdown can be trusted), so a change in sync state changes the tag too.
        """
        key = "|".join(
            str(v)
            for v in (
                clock_synced,
                self.order_id,
                self.level,
                self.version,
                self.deadline,
                self.sla,
                self.claimed_by,
                self.claim_expires_at,
            )
        )
        return '"' + hashlib.sha256(key.encode()).hexdigest()[:20] + '"'

    def as_dict(self) -> dict[str, Any]:
        """Wire form."""
        return asdict(self)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def make_entry(row: dict[str, Any], now_ms: int, settings: PrioritySettings) -> QueueEntry:
    """The queue entry of an order row as of `now_ms` (countdown and colour are computed, never stored)."""
    deadline_ms = row["deadline_ms"]
    has_deadline = deadline_ms != NO_DEADLINE_MS
    seconds_left = (deadline_ms - now_ms) // 1000 if has_deadline else None
    sla = sla_colour(seconds_left, settings)
    why = [f"level {row['priority']} ({row['priority_rule']})"]
    if seconds_left is not None:
        why.append(f"deadline {'passed' if seconds_left < 0 else 'in'} {_span(abs(seconds_left))} ({sla})")
    else:
        why.append("no deadline")
    why.append(f"waiting {_span(max(0, now_ms - row['received_at_ms']) // 1000)}")
    claimed = row.get("claim_pda")
    return QueueEntry(
        order_id=row["order_id"],
        level=row["priority"],
        rule=row["priority_rule"],
        status=row["status"],
        version=row["version"],
        deadline=_iso(deadline_ms) if has_deadline else None,
        seconds_left=seconds_left,
        sla=sla,
        received_at=_iso(row["received_at_ms"]),
        claimed_by=claimed,
        claim_expires_at=_iso(row["claim_expires_ms"]) if claimed else None,
        why=why,
    )


def _span(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


_COLUMNS = (
    "o.order_id, o.priority, o.priority_rule, o.status, o.version, o.deadline_ms, o.received_at_ms, "
    "c.pda AS claim_pda, c.expires_at_ms AS claim_expires_ms"
)
_ORDER_BY = "ORDER BY o.priority_rank, o.deadline_ms, o.received_at_ms"


def top_row(db: sqlite_utils.Database, pda: str, now_ms: int) -> dict[str, Any] | None:
    """The row of the order this PDA should work next: the first pending order not claimed by another PDA."""
    return next(
        db.query(
            f"SELECT {_COLUMNS} FROM orders o LEFT JOIN claims c ON c.order_id = o.order_id AND c.expires_at_ms > ? "  # noqa: S608
            f"WHERE o.status = 'pending' AND (c.pda IS NULL OR c.pda = ?) {_ORDER_BY} LIMIT 1",
            [now_ms, pda],
        ),
        None,
    )


def next_sla_change_ms(row: dict[str, Any], now_ms: int, settings: PrioritySettings) -> int | None:
    """When this order's SLA colour changes next (the top's look changes then without any commit)."""
    if row["deadline_ms"] == NO_DEADLINE_MS:
        return None
    edges = [
        row["deadline_ms"] - int(h * 3_600_000)
        for h in (settings.sla_red_h, settings.sla_orange_h, settings.sla_yellow_h)
    ]
    upcoming = [t for t in edges if t > now_ms]
    return min(upcoming) if upcoming else None


def next_claim_expiry_ms(db: sqlite_utils.Database, now_ms: int) -> int | None:
    """When the next live claim ends (a PDA's top may change then without any commit)."""
    row = next(db.query("SELECT min(expires_at_ms) AS t FROM claims WHERE expires_at_ms > ?", [now_ms]))
    return None if row["t"] is None else int(row["t"])


def listing(
    db: sqlite_utils.Database,
    now_ms: int,
    settings: PrioritySettings,
    *,
    status: str = "pending",
    level: str | None = None,
    sla: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QueueEntry], int]:
    """A page of the queue with filters; also the total that match."""
    where = ["o.status = ?"]
    params: list[Any] = [now_ms, status]
    if level is not None:
        where.append("o.priority = ?")
        params.append(level)
    if sla is not None:
        low, high = _sla_range(sla, now_ms, settings)
        where.append("o.deadline_ms >= ? AND o.deadline_ms < ?")
        params += [low, high]
    clause = " AND ".join(where)
    base = f"FROM orders o LEFT JOIN claims c ON c.order_id = o.order_id AND c.expires_at_ms > ? WHERE {clause}"
    total = int(next(db.query(f"SELECT count(*) AS n {base}", params))["n"])
    rows = db.query(f"SELECT {_COLUMNS} {base} {_ORDER_BY} LIMIT ? OFFSET ?", [*params, limit, offset])
    return [make_entry(r, now_ms, settings) for r in rows], total


def _sla_range(colour: str, now_ms: int, settings: PrioritySettings) -> tuple[int, int]:
    """The deadline interval [low, high) that has this colour now."""
    hour = 3_600_000
    edges = {
        "red": (-(2**62), now_ms + int(settings.sla_red_h * hour)),
        "orange": (now_ms + int(settings.sla_red_h * hour), now_ms + int(settings.sla_orange_h * hour)),
        "yellow": (now_ms + int(settings.sla_orange_h * hour), now_ms + int(settings.sla_yellow_h * hour)),
        "green": (now_ms + int(settings.sla_yellow_h * hour), NO_DEADLINE_MS),
        "none": (NO_DEADLINE_MS, NO_DEADLINE_MS + 1),
    }
    return edges[colour]


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """Outcome of a claim or release."""

    refusal: str | None
    expires_at_ms: int | None = None


def claim(store: Store, order_id: str, pda: str, settings: PrioritySettings, actor: Actor) -> ClaimResult:
    """Claim a pending order for `claim_lease_s` (renewing one's own claim extends it)."""
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        if order is None:
            return ClaimResult("unknown_order")
        if order.status is not Status.PENDING:
            return ClaimResult("order_not_pending")
        now = tx.wall_now_ms()
        held = next(
            tx.repo.db.query(
                "SELECT pda, expires_at_ms FROM claims WHERE order_id = ? AND expires_at_ms > ?", [order_id, now]
            ),
            None,
        )
        if held is not None and held["pda"] != pda:
            return ClaimResult("claimed_by_other", int(held["expires_at_ms"]))
        expires = now + settings.claim_lease_s * 1000
        tx.repo.db.execute(
            "INSERT INTO claims (order_id, pda, expires_at_ms) VALUES (?, ?, ?) ON CONFLICT (order_id) "
            "DO UPDATE SET pda = excluded.pda, expires_at_ms = excluded.expires_at_ms",
            [order_id, pda, expires],
        )
        tx.append(NewEvent(QueueEvent.CLAIMED, actor, order_id, {"pda": pda, "expires_at_ms": expires}))
        return ClaimResult(None, expires)


def release(store: Store, order_id: str, pda: str, actor: Actor) -> ClaimResult:
    """Give back a claim before its lease ends."""
    with store.transaction() as tx:
        now = tx.wall_now_ms()
        cur = tx.repo.db.execute(
            "DELETE FROM claims WHERE order_id = ? AND pda = ? AND expires_at_ms > ?", [order_id, pda, now]
        )
        if cur.rowcount != 1:
            return ClaimResult("not_claimed")
        tx.append(NewEvent(QueueEvent.RELEASED, actor, order_id, {"pda": pda}))
        return ClaimResult(None)
