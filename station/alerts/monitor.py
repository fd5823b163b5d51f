"""Alerts (docs/orders.md, "Priority and alerts"): their conditions, evaluated on a timer and on device reports.

- `stale_order` (per order): an active order with no status change for `stale_order_h`;
- `s_overload`: more than `s_waiting_max` S orders waiting — also trips the S-escalation breaker;
- `queue_backlog`: more than `pending_max` pending, or their mean wait above `mean_wait_max_min`;
- `role_conflict` (per order): `conflict_roles` different roles changed the order within `conflict_window_h`;
- `device_down` (per device): reported by the device adapters;
- `clock_ahead`: event time is more than `MAX_EVENT_CLOCK_LEAD_MS` ahead of the synchronised wall clock (the
  clock never runs backwards, so after a boot from a wrong clock in the future it stays there until real time
  catches up; the alert makes that visible instead of silent).

A raised alert shows on the bench's indicator: `device_down` as `Feedback.DEVICE_FAULT` (its own light and buzzer
pattern), every other alert as `Feedback.ATTENTION`, also those other parts raise (the print queue's). When the
last device is back, `Feedback.DEVICE_OK` ends the fault pattern.

Raising, clearing and what is active go through the one ledger (`station.alerts.ledger`); the monitor keeps no
copy of its own.
"""

import logging
from typing import Any

from station.alerts import ledger
from station.alerts.ledger import AlertKey, active_alerts
from station.clock import MAX_EVENT_CLOCK_LEAD_MS
from station.devices.ports import Indicator
from station.events import SYSTEM, Envelope, EventType
from station.orders.model import Feedback
from station.priority.prioritizer import OPEN_STATUSES, breaker_until_ms, trip_breaker
from station.priority.rules import PrioritySettings
from station.store import Store, Tx

logger = logging.getLogger(__name__)

# Where `station.api` and the tests have always read the active alerts from.
__all__ = ["AlertMonitor", "active_alerts"]


class AlertMonitor:
    """Evaluates the alert conditions and records each raise and clear."""

    def __init__(
        self, store: Store, settings: PrioritySettings, indicator: Indicator | None = None, bench_id: str = "B01"
    ) -> None:
        self.store = store
        self.settings = settings
        self.indicator = indicator
        self.bench_id = bench_id
        # The event ids of the raises this monitor showed itself, so that the commit does not show them again.
        # (A raise rolled back leaves its id here: harmless, as event ids are never reused.)
        self._shown: set[str] = set()
        store.subscribe(self._show_alerts_raised_elsewhere)

    def _show_alerts_raised_elsewhere(self, events: list[Envelope]) -> None:
        """Alerts that other parts raise in their own transactions (the print queue's `label_unknown` and
        `label_failed`) show the attention pattern too. Device-down alerts all come through `device_state`."""
        if self.indicator is None or not self.settings.attention_light:
            return
        for env in events:
            if env["type"] != EventType.ALERT_RAISED:
                continue  # every commit comes here, scans included: look no further at anything else
            if env["event_id"] in self._shown:
                self._shown.discard(env["event_id"])
                continue
            data = env["data"]
            key: AlertKey = (str(data.get("alert")), str(data.get("subject") or ""))
            if key[0] != "device_down":
                self.indicator.signal(self.bench_id, Feedback.ATTENTION, f"alert {key[0]} {key[1]}".strip())

    # -- raising and clearing ------------------------------------------------------------------------------------
    def _raise(self, tx: Tx, alert: str, subject: str = "", order_id: str | None = None, **data: Any) -> bool:
        if not ledger.raise_alert(tx, alert, subject, SYSTEM, order_id, **data):
            return False
        logger.warning("alert raised: %s %s %s", alert, subject, data)
        if self.indicator is not None and self.settings.attention_light:
            self._shown.add(tx.events[-1]["event_id"])  # the raise just appended
            feedback = Feedback.DEVICE_FAULT if alert == "device_down" else Feedback.ATTENTION
            self.indicator.signal(self.bench_id, feedback, f"alert {alert} {subject}".strip())
        return True

    def _clear(self, tx: Tx, alert: str, subject: str = "") -> None:
        if not ledger.clear_alert(tx, alert, subject, SYSTEM):
            return
        logger.info("alert cleared: %s %s", alert, subject)
        if (
            alert == "device_down"
            and self.indicator is not None
            and self.settings.attention_light
            and not ledger.active_subjects(tx.repo.db, "device_down")
        ):
            self.indicator.signal(self.bench_id, Feedback.DEVICE_OK, "all devices up")

    def _sync_per_subject(self, tx: Tx, alert: str, now_true: dict[str, dict[str, Any]]) -> None:
        """Raise `alert` for every subject (an order) in `now_true`, clear it for subjects no longer there."""
        active = ledger.active_subjects(tx.repo.db, alert)
        already = set(active)
        for subject, data in now_true.items():
            if subject not in already:
                self._raise(tx, alert, subject, subject, **data)
        for subject in active:
            if subject not in now_true:
                self._clear(tx, alert, subject)

    # -- the conditions ------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Evaluate the timed conditions (run on the database thread)."""
        with self.store.transaction() as tx:
            now = tx.wall_now_ms()
            self._stale_orders(tx, now)
            self._s_overload(tx)
            self._backlog(tx, now)
            self._role_conflicts(tx, now)
            self._clock_ahead(tx)

    def _stale_orders(self, tx: Tx, now: int) -> None:
        limit = now - int(self.settings.stale_order_h * 3_600_000)
        marks = ",".join("?" * len(OPEN_STATUSES))
        rows = tx.repo.db.query(
            f"SELECT order_id, status, status_since_ms FROM orders WHERE status IN ({marks}) AND status_since_ms < ?",  # noqa: S608
            [*(s.value for s in OPEN_STATUSES), limit],
        )
        stale = {
            r["order_id"]: {"status": r["status"], "since_min": (now - r["status_since_ms"]) // 60_000} for r in rows
        }
        self._sync_per_subject(tx, "stale_order", stale)

    def _s_overload(self, tx: Tx) -> None:
        waiting = int(
            next(tx.repo.db.query("SELECT count(*) AS n FROM orders WHERE status = 'pending' AND priority = 'S'"))["n"]
        )
        if waiting > self.settings.s_waiting_max:
            raised = self._raise(tx, "s_overload", s_waiting=waiting, limit=self.settings.s_waiting_max)
            if raised and breaker_until_ms(tx) <= tx.wall_now_ms():
                trip_breaker(tx, self.settings, SYSTEM, waiting)
        else:
            self._clear(tx, "s_overload")

    def _backlog(self, tx: Tx, now: int) -> None:
        row = next(
            tx.repo.db.query(
                "SELECT count(*) AS n, avg(? - received_at_ms) AS wait FROM orders WHERE status = 'pending'", [now]
            )
        )
        pending, mean_wait_min = int(row["n"]), (row["wait"] or 0) / 60_000
        if pending > self.settings.pending_max or mean_wait_min > self.settings.mean_wait_max_min:
            self._raise(tx, "queue_backlog", pending=pending, mean_wait_min=round(mean_wait_min, 1))
        else:
            self._clear(tx, "queue_backlog")

    def _role_conflicts(self, tx: Tx, now: int) -> None:
        first_seq = tx.repo.first_seq_since(now - int(self.settings.conflict_window_h * 3_600_000))
        rows = tx.repo.db.query(
            "SELECT order_id, group_concat(DISTINCT json_extract(actor, '$.role')) AS roles FROM events "
            "WHERE seq >= ? AND order_id IS NOT NULL AND type IN (?, ?) GROUP BY order_id "
            "HAVING count(DISTINCT json_extract(actor, '$.role')) >= ?",
            [first_seq, EventType.STATUS_CHANGED, EventType.ORDER_UPDATED, self.settings.conflict_roles],
        )
        conflicts = {r["order_id"]: {"roles": sorted(str(r["roles"]).split(","))} for r in rows}
        self._sync_per_subject(tx, "role_conflict", conflicts)

    def _clock_ahead(self, tx: Tx) -> None:
        if not self.store.sync_state.is_synced():
            return  # an unsynchronised wall clock cannot tell that event time is wrong
        lead_ms = self.store.clock.lead_ms()
        if lead_ms > MAX_EVENT_CLOCK_LEAD_MS:
            self._raise(tx, "clock_ahead", ahead_min=lead_ms // 60_000)
        else:
            self._clear(tx, "clock_ahead")

    def device_state(self, device: str, up: bool, detail: str = "") -> None:
        """A device adapter reports its device up or down (run on the database thread)."""
        with self.store.reading() as repo:
            down = ledger.is_active(repo.db, "device_down", device)
        if up != down:
            return  # no news: no transaction
        with self.store.transaction() as tx:
            if up:
                self._clear(tx, "device_down", device)
            else:
                self._raise(tx, "device_down", device, detail=detail)
