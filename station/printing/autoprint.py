"""Auto-print: every order that becomes packed gets its first label queued, once, even across a crash.

The store tells the worker (after commit) that an order became packed; the worker then reads the event log
from a persisted cursor (`meta` key ``printing.autoprint_seq.<printer>``) and queues each packed order's
first label in its own transaction, so a label is neither lost when the station dies between the two commits
nor queued twice.
"""

import logging

import sqlite_utils

from station.events import EventType
from station.orders.model import Status
from station.printing.jobs import PrintJob, printer_actor
from station.printing.queue import queue_first_label
from station.printing.settings import PrintingSettings
from station.store import Store, Tx

logger = logging.getLogger(__name__)

CURSOR_KEY = "printing.autoprint_seq.{printer}"

_PACKED_SINCE = (
    "SELECT seq, order_id FROM events WHERE seq > ? AND type = ? AND json_extract(data, '$.to') = ? ORDER BY seq"
)


class AutoPrint:
    """One printer's auto-print cursor over the event log."""

    def __init__(self, store: Store, settings: PrintingSettings, printer: str) -> None:
        """Queue labels on `printer` from `store`'s events, when `settings.auto_print` is on."""
        self.store = store
        self.settings = settings
        self.printer = printer
        self._key = CURSOR_KEY.format(printer=printer)
        self._actor = printer_actor(printer)

    def start(self, tx: Tx) -> None:
        """Place the cursor at start: at the end of the log the first time; dropped while auto-print is off."""
        db = tx.repo.db
        row = next(db.query("SELECT value FROM meta WHERE key = ?", [self._key]), None)
        if not self.settings.auto_print:
            # Switching auto-print on later must not print every order packed while it was off.
            db.execute("DELETE FROM meta WHERE key = ?", [self._key])
        elif row is None:
            last = next(db.query("SELECT coalesce(max(seq), 0) AS seq FROM events"))["seq"]
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [self._key, str(last)])

    def catch_up(self) -> None:
        """Queue the first label of every order packed since the cursor, and move the cursor past them."""
        if not self.settings.auto_print:
            return
        packed_args = [EventType.STATUS_CHANGED, Status.PACKED.value]
        with self.store.reading() as repo:
            if next(repo.db.query(_PACKED_SINCE, [self._cursor(repo.db), *packed_args]), None) is None:
                return
        queued: list[PrintJob] = []
        with self.store.transaction() as tx:
            db = tx.repo.db
            cursor = self._cursor(db)
            last = next(db.query("SELECT coalesce(max(seq), 0) AS seq FROM events"))["seq"]
            for packed in db.query(_PACKED_SINCE, [cursor, *packed_args]):
                new = queue_first_label(tx, packed["order_id"], self.printer, self._actor)
                if new is not None:
                    queued.append(new)
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [self._key, str(last)],
            )
        for new in queued:
            logger.info(
                "print queue %s: label job %s queued for packed order %s", self.printer, new.job_id, new.order_id
            )

    def _cursor(self, db: sqlite_utils.Database) -> int:
        row = next(db.query("SELECT value FROM meta WHERE key = ?", [self._key]), None)
        return int(row["value"]) if row else 0
