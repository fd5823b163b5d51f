"""The alert ledger: the one way an alert is raised or cleared, and what is active now.

An alert is identified by (alert, subject), subject "" for a station-wide alert. It is raised once and cleared
once, so the event log and `/api/v1/alerts` tell the same story: `raise_alert` writes `alert.raised` only while
the alert is not active, `clear_alert` writes `alert.cleared` only while it is. Both events carry
``{"alert", "subject", ...extra fields}``; a clear carries the order id of the event that raised the alert.

What is active lives in one table, `alerts_active` (alert, subject, seq of the raising event). `Tx.append`
keeps it in the same transaction as every alert event (`station.store.store`), so an active alert's order,
time and data are those of its raising event. Everything that raises an alert comes through here: the alert
monitor (SLA, breakers, devices, clock) and the print queue. The one exception is the store's own
`database_corrupt` alert, written by `Store.open` while the database is being recovered.
"""

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from station.events import Actor, EventType, NewEvent
from station.store import Store, Tx

AlertKey = tuple[str, str]  # (alert, subject); subject "" for station-wide alerts


def is_active(db: sqlite_utils.Database, alert: str, subject: str) -> bool:
    """True while this alert is raised and not cleared (`db`: e.g. `tx.repo.db` or `repo.db`)."""
    sql = "SELECT 1 AS hit FROM alerts_active WHERE alert = ? AND subject = ?"
    return next(db.query(sql, [alert, subject]), None) is not None


def active_subjects(db: sqlite_utils.Database, alert: str) -> list[str]:
    """The subjects this alert is active for, oldest raise first."""
    rows = db.query("SELECT subject FROM alerts_active WHERE alert = ? ORDER BY seq", [alert])
    return [str(row["subject"]) for row in rows]


def active_for_order(db: sqlite_utils.Database, order_id: str, alerts: Iterable[str]) -> list[AlertKey]:
    """The active alerts among `alerts` raised about this order, oldest raise first."""
    names = list(alerts)
    marks = ",".join("?" * len(names))
    # Only "?" marks are formatted into the statement; the values are parameters.
    rows = db.query(
        "SELECT a.alert, a.subject FROM alerts_active a JOIN events e ON e.seq = a.seq "  # noqa: S608
        f"WHERE e.order_id = ? AND a.alert IN ({marks}) ORDER BY a.seq",
        [order_id, *names],
    )
    return [(str(row["alert"]), str(row["subject"])) for row in rows]


def raise_alert(tx: Tx, alert: str, subject: str, actor: Actor, order_id: str | None = None, **data: Any) -> bool:
    """Raise an alert unless it is already active; False when it was (nothing written)."""
    if is_active(tx.repo.db, alert, subject):
        return False
    tx.append(NewEvent(EventType.ALERT_RAISED, actor, order_id, {"alert": alert, "subject": subject, **data}))
    return True


def clear_alert(tx: Tx, alert: str, subject: str, actor: Actor, **data: Any) -> bool:
    """Clear an active alert, about the order its raise was about; False when it was not active."""
    row = next(
        tx.repo.db.query(
            "SELECT e.order_id FROM alerts_active a LEFT JOIN events e ON e.seq = a.seq "
            "WHERE a.alert = ? AND a.subject = ?",
            [alert, subject],
        ),
        None,
    )
    if row is None:
        return False
    tx.append(NewEvent(EventType.ALERT_CLEARED, actor, row["order_id"], {"alert": alert, "subject": subject, **data}))
    return True


def active_alerts(store: Store) -> list[dict[str, Any]]:
    """Alerts raised and not cleared since, newest first, each with its raising event's seq, time, order and data."""
    with store.reading() as repo:
        rows = list(
            repo.db.query(
                "SELECT a.alert, a.subject, e.seq, e.order_id, e.at_ms, e.at_counter, e.data FROM alerts_active a "
                "JOIN events e ON e.seq = a.seq ORDER BY e.seq DESC"
            )
        )
    return [
        {
            "alert": row["alert"],
            "subject": row["subject"],
            "seq": row["seq"],
            "at": {"ms": row["at_ms"], "counter": row["at_counter"]},
            "order_id": row["order_id"],
            "data": json.loads(row["data"]),
        }
        for row in rows
    ]
