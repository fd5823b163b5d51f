"""The print worker: one thread per printer that sends queued jobs one at a time and settles each by the
printer's label counter.

All blocking printer I/O happens on this thread, never on the event loop and never inside a database
transaction. For each job it asks the printer's status (not ready: the job waits, a `device_down` alert is
raised, and the printer is asked again with growing pauses); reads the counter and commits ``sending``
*before* the job's first byte leaves; prints; and commits the printer's verdict.

At start, a job found in ``sending`` (the station was killed mid-job) is never resent blindly: if the
counter moved by its labels it is done; if the counter did not move, whatever the printer still holds is
cancelled (``~JA``) and, the counter still unmoved after `recovery_settle_s`, the job goes back to the
queue; anything else is ``unknown`` with an alert for a person.

Auto-print: the store tells the worker (after commit) that an order became packed; the worker reads the
event log from a persisted cursor (`meta` key ``printing.autoprint_seq.<printer>``) and queues each packed
order's first label in its own transaction, so a label is neither lost when the station dies between the
two commits nor queued twice.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from station.events import EventType
from station.orders.model import Order, Status
from station.printing.errors import LabelDataError
from station.printing.labels import LabelMaker, label_preview_png
from station.printing.ports import JobReport, LabelPrinter, LabelRendering
from station.printing.queue import (
    DEFAULT_PRINTER,
    Alert,
    JobKind,
    JobState,
    LabelEvent,
    PrintConfirmation,
    PrintJob,
    alert_active,
    clear_alert,
    forget_old_zpl,
    job,
    latest_shipping_job,
    mark_sending,
    next_job,
    printer_actor,
    queue_first_label,
    raise_alert,
    record_done,
    record_failed,
    record_unknown,
    requeue,
    sending_jobs,
)
from station.printing.settings import PrintingSettings
from station.store import Store

logger = logging.getLogger(__name__)

#: `device_state(device, up, detail)`: where a printer's up/down goes when the station keeps device alerts
#: in one place (`station.alerts.monitor.AlertMonitor.device_state`). Must not block; called on the worker thread.
DeviceState = Callable[[str, bool, str], object]

CURSOR_KEY = "printing.autoprint_seq.{printer}"
PRUNE_EVERY_S = 3600.0
_DAY_MS = 86_400_000
_LINK_DOWN = ("unreachable", "no_answer")


class PrintWorker:
    """The print queue of one printer and the thread that works it.

    `start()` runs it in its own thread; `step()` does one pass synchronously (tests, tools). It also gives
    the `labeled` guard its answer (`confirmation`) and label previews (`preview_png`).
    """

    def __init__(
        self,
        store: Store,
        settings: PrintingSettings,
        printer: LabelPrinter,
        rendering: LabelRendering,
        *,
        name: str = DEFAULT_PRINTER,
        device_state: DeviceState | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Work `store`'s queue for `printer` (named `name` in rows and events); subscribes to the store.

        `device_state`: report the printer up/down there (e.g. the station's alert monitor); without it the
        worker raises and clears the `device_down` alert itself.
        """
        self.store = store
        self.settings = settings
        self.printer = printer
        self.name = name
        self.labels = LabelMaker(settings, rendering)
        self.confirmation = PrintConfirmation(store)
        self._monotonic = monotonic
        self._device_state = device_state
        self._reported: bool | None = None  # what `device_state` was last told: up, down, or nothing yet
        self._actor = printer_actor(name)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False
        self._packed_hint = True  # look at the event log once at start: packed orders may await their label
        self._down = False
        self._reasons: list[str] = []
        self._backoff_s = settings.retry_backoff_min_s
        self._next_status_at = 0.0
        self._next_prune_at = 0.0
        store.subscribe(self._handle_committed)
        # From here on, every order that becomes packed gets its label, even if the thread starts later.
        self._start_up()

    # -- running ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"printer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop after the job in hand (a print can take a while); False if the thread did not end in time.

        A job cut off by the process ending stays ``sending`` and is settled by the counter at next start.
        """
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        if thread.is_alive():
            logger.warning("print queue %s: worker still busy after %.0f s; leaving it", self.name, timeout_s)
            return False
        self._thread = None
        return True

    def wake(self) -> None:
        """Look at the queue now (a job was added from elsewhere)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        logger.info("print queue %s: worker started for %s", self.name, self.printer.description)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self.step()
            except Exception:
                logger.exception("print queue %s: pass failed; trying again", self.name)
                # A job may have been left mid-send (its verdict not recorded): the counter settles it first.
                self._recovered = False
                delay = self.settings.retry_backoff_max_s
            if delay > 0:
                self._wake.wait(delay)
        logger.info("print queue %s: worker stopped", self.name)

    def step(self) -> float:
        """One pass: settle jobs left mid-send, queue labels for packed orders, send the next job.

        Returns how long to wait before the next pass (0: there may be more to do at once).
        """
        if self._packed_hint:
            self._catch_up_packed()  # needs no printer: the label is queued (and visible) even while it is down
        now = self._monotonic()
        if self._down and now < self._next_status_at:
            return self._next_status_at - now
        if not self._recovered and not self._recover():
            return max(self._next_status_at - self._monotonic(), 0.0)
        with self.store.reading() as repo:
            waiting = next_job(repo.db, self.name)
        if waiting is None:
            if now >= self._next_prune_at:
                self._prune()
            if now >= self._next_status_at:
                self._check_status()
            return max(self._next_status_at - self._monotonic(), 0.0)
        return self._send(waiting)

    def run_until_idle(self, max_passes: int = 1000) -> None:
        """Run passes in this thread until nothing is left to send, or the printer is not ready (tests and
        tools; never on the event loop)."""
        for _ in range(max_passes):
            delay = self.step()
            if self._down:
                return
            with self.store.reading() as repo:
                waiting = next_job(repo.db, self.name)
                mid_send = sending_jobs(repo.db, self.name)
            if waiting is None and not mid_send:
                return
            if delay > 0:
                self._stop.wait(delay)
        raise RuntimeError(f"print queue {self.name}: not idle after {max_passes} passes")

    def retry_now(self) -> None:
        """Ask a printer that was not ready again at once (a person says it is fixed), then look at the queue."""
        self._next_status_at = 0.0
        self._backoff_s = self.settings.retry_backoff_min_s
        self._wake.set()

    # -- the store's notifications (called on the committing thread: never block) ------------------------------
    def _handle_committed(self, events: list[dict[str, Any]]) -> None:
        for env in events:
            kind = env["type"]
            if kind == EventType.STATUS_CHANGED and env["data"].get("to") == Status.PACKED.value:
                self._packed_hint = True
                self._wake.set()
            elif (
                kind == LabelEvent.QUEUED
                and env["data"].get("printer") == self.name
                and threading.current_thread() is not self._thread
            ):
                self._wake.set()

    # -- start-up and auto-print -------------------------------------------------------------------------------
    def _start_up(self) -> None:
        key = CURSOR_KEY.format(printer=self.name)
        with self.store.transaction() as tx:
            db = tx.repo.db
            self._down = self._device_state is None and alert_active(db, Alert.DEVICE_DOWN, self.name)
            row = next(db.query("SELECT value FROM meta WHERE key = ?", [key]), None)
            if not self.settings.auto_print:
                # Switching auto-print on later must not print every order packed while it was off.
                db.execute("DELETE FROM meta WHERE key = ?", [key])
            elif row is None:
                last = next(db.query("SELECT coalesce(max(seq), 0) AS seq FROM events"))["seq"]
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [key, str(last)])

    def _catch_up_packed(self) -> None:
        self._packed_hint = False  # before reading, so a hint arriving meanwhile is not lost
        if not self.settings.auto_print:
            return
        key = CURSOR_KEY.format(printer=self.name)
        sql = (
            "SELECT seq, order_id FROM events WHERE seq > ? AND type = ? AND json_extract(data, '$.to') = ? "
            "ORDER BY seq"
        )
        with self.store.reading() as repo:
            row = next(repo.db.query("SELECT value FROM meta WHERE key = ?", [key]), None)
            cursor = int(row["value"]) if row else 0
            if next(repo.db.query(sql, [cursor, EventType.STATUS_CHANGED, Status.PACKED.value]), None) is None:
                return
        queued: list[PrintJob] = []
        with self.store.transaction() as tx:
            db = tx.repo.db
            row = next(db.query("SELECT value FROM meta WHERE key = ?", [key]), None)
            cursor = int(row["value"]) if row else 0
            last = next(db.query("SELECT coalesce(max(seq), 0) AS seq FROM events"))["seq"]
            for packed in db.query(sql, [cursor, EventType.STATUS_CHANGED, Status.PACKED.value]):
                new = queue_first_label(tx, packed["order_id"], self.name, self._actor)
                if new is not None:
                    queued.append(new)
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, str(last)],
            )
        for new in queued:
            logger.info("print queue %s: label job %s queued for packed order %s", self.name, new.job_id, new.order_id)

    def _prune(self) -> None:
        self._next_prune_at = self._monotonic() + PRUNE_EVERY_S
        with self.store.transaction() as tx:
            cutoff = tx.wall_now_ms() - int(self.settings.keep_zpl_days * _DAY_MS)
            dropped = forget_old_zpl(tx, cutoff)
        if dropped:
            logger.info("print queue %s: dropped the stored ZPL of %d old jobs", self.name, dropped)

    # -- printer up and down -----------------------------------------------------------------------------------
    def _check_status(self) -> None:
        status = self.printer.status()
        if status.ready:
            self._came_up()
        else:
            self._went_down(status.reasons)

    def _went_down(self, reasons: Sequence[str]) -> float:
        """The printer is not ready: alert once, and wait longer each time before asking again."""
        why = list(reasons) or ["not_ready"]
        if not self._down or why != self._reasons:
            logger.warning("print queue %s: printer not ready: %s", self.name, ", ".join(why))
        if self._device_state is not None:
            if self._reported is not False:
                self._tell(up=False, detail=", ".join(why))
        elif not self._down:
            with self.store.transaction() as tx:
                raise_alert(
                    tx,
                    Alert.DEVICE_DOWN,
                    self.name,
                    self._actor,
                    device="printer",
                    printer=self.name,
                    reasons=why,
                )
        self._down = True
        self._reasons = why
        delay = self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.settings.retry_backoff_max_s)
        self._next_status_at = self._monotonic() + delay
        return delay

    def _came_up(self) -> None:
        if self._device_state is not None:
            if self._reported is not True:
                self._tell(up=True, detail="")
        elif self._down:
            with self.store.transaction() as tx:
                clear_alert(tx, Alert.DEVICE_DOWN, self.name, self._actor, device="printer", printer=self.name)
        if self._down:
            logger.info("print queue %s: printer ready again", self.name)
        self._down = False
        self._reasons = []
        self._backoff_s = self.settings.retry_backoff_min_s
        self._next_status_at = self._monotonic() + self.settings.status_poll_s

    def _tell(self, *, up: bool, detail: str) -> None:
        assert self._device_state is not None
        try:
            self._device_state(self.name, up, detail)
        except Exception:
            logger.exception("print queue %s: could not report the printer %s", self.name, "up" if up else "down")
        self._reported = up

    # -- sending -----------------------------------------------------------------------------------------------
    def _render(self, j: PrintJob) -> str:
        with self.store.reading() as repo:
            order = repo.order(j.order_id) if j.order_id else None
        if order is None:
            raise LabelDataError(f"job {j.job_id}: order {j.order_id} is not at this station")
        kind = JobKind.SSCC if j.kind is JobKind.SSCC else JobKind.LABEL
        return self.labels.zpl_for_order(order, kind)

    def _send(self, waiting: PrintJob) -> float:
        zpl = waiting.zpl
        if zpl is None:
            try:
                zpl = self._render(waiting)
            except LabelDataError as err:
                logger.warning("print queue %s: job %s cannot be made: %s", self.name, waiting.job_id, err)
                with self.store.transaction() as tx:
                    current = job(tx.repo.db, waiting.job_id)
                    if current is not None and _sendable(current):
                        record_failed(tx, current, reason="label_data", detail=str(err), sent=False, retry=False)
                return 0.0
        status = self.printer.status()
        if not status.ready:
            return self._went_down(status.reasons)
        self._came_up()
        with self.store.transaction() as tx:
            current = job(tx.repo.db, waiting.job_id)
            if current is None or not _sendable(current):
                return 0.0  # settled meanwhile
            sending = mark_sending(tx, current, zpl, status.odometer)
        logger.info(
            "print queue %s: sending job %s (%s, order %s, attempt %d)",
            self.name,
            sending.job_id,
            sending.kind.value,
            sending.order_id,
            sending.attempts,
        )
        try:
            report = self.printer.print_job(sending.job_id, zpl)
        except Exception:
            # The job may or may not have reached the printer: settle it by the counter, as after a restart.
            logger.exception(
                "print queue %s: job %s failed unexpectedly; the counter will decide", self.name, sending.job_id
            )
            self._recovered = False
            return 0.0
        self._record(sending, report)
        if report.state == "failed" and not report.sent:
            reasons = report.detail.split(",") if report.reason == "not_ready" and report.detail else [report.reason]
            return self._went_down([r for r in reasons if r] or ["not_ready"])
        return 0.0

    def _record(self, sending: PrintJob, report: JobReport) -> None:
        if report.odometer_before is not None and report.odometer_before != sending.odometer_before:
            logger.warning(
                "print queue %s: counter moved from %s to %s before job %s was sent (someone else printing?)",
                self.name,
                sending.odometer_before,
                report.odometer_before,
                sending.job_id,
            )
        with self.store.transaction() as tx:
            if report.state == "done":
                record_done(
                    tx, sending, reason=report.reason, odometer_after=report.odometer_after, detail=report.detail
                )
            elif report.state == "failed":
                record_failed(
                    tx,
                    sending,
                    reason=report.reason or "failed",
                    detail=report.detail,
                    sent=report.sent,
                    odometer_after=report.odometer_after,
                )
            else:
                record_unknown(
                    tx,
                    sending,
                    reason=report.reason or "unknown",
                    detail=report.detail,
                    odometer_after=report.odometer_after,
                )
        logger.info(
            "print queue %s: job %s %s (%s), counter %s -> %s",
            self.name,
            sending.job_id,
            report.state,
            report.reason,
            sending.odometer_before,
            report.odometer_after,
        )

    # -- recovery ----------------------------------------------------------------------------------------------
    def _recover(self) -> bool:
        """Settle every job left in `sending`; False while the printer cannot be asked (try again later)."""
        with self.store.reading() as repo:
            left = sending_jobs(repo.db, self.name)
        for j in left:
            if not self._settle(j):
                return False
        self._recovered = True
        return True

    def _settle(self, j: PrintJob) -> bool:
        logger.warning(
            "print queue %s: job %s was being sent when the station stopped; asking the counter", self.name, j.job_id
        )
        status = self.printer.status()
        if status.odometer is None and any(r in _LINK_DOWN for r in status.reasons):
            self._went_down(status.reasons)
            return False
        if not status.ready:
            self._went_down(status.reasons)
        verdict, why = _judge(j.odometer_before, status.odometer, j.labels)
        if verdict == "nothing":
            # Not counted yet, but it may still wait in the printer: cancel it so it can never come out later,
            # give a label already under the head time to finish, then look again.
            try:
                self.printer.cancel_all()
            except Exception as err:
                self._settled(j, "unknown", "cancel_failed", str(err), status.odometer)
                return True
            if self._stop.wait(self.settings.recovery_settle_s):
                return False  # stopping: decide at the next start rather than on a cut-short look
            after = self.printer.odometer()
            verdict, why = _judge(j.odometer_before, after, j.labels)
            self._settled(j, verdict, why, "", after)
            return True
        self._settled(j, verdict, why, "", status.odometer)
        return True

    def _settled(self, j: PrintJob, verdict: str, why: str, detail: str, count: int | None) -> None:
        with self.store.transaction() as tx:
            current = job(tx.repo.db, j.job_id)
            if current is None or current.state is not JobState.SENDING:
                return
            if verdict == "printed":
                record_done(tx, current, reason="printed_before_restart", odometer_after=count, detail=detail)
            elif verdict == "nothing":
                requeue(tx, current, reason="not_printed_before_restart")
            else:
                record_unknown(tx, current, reason=why, detail=detail, odometer_after=count)
        logger.warning(
            "print queue %s: job %s settled by the counter (%s -> %s): %s",
            self.name,
            j.job_id,
            j.odometer_before,
            count,
            "printed" if verdict == "printed" else ("queued again" if verdict == "nothing" else f"unknown, {why}"),
        )

    # -- for the rest of the station ---------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The printer's state for `/health` (no I/O: the worker's last word)."""
        return {
            "ok": not self._down,
            "printer": self.name,
            "device": self.printer.description,
            "reasons": list(self._reasons),
            "running": self.running,
        }

    def preview_png(self, order: Order) -> bytes:
        """The order's label as PNG: the one last sent to the printer if any, else made from the order now.

        Blocking CPU work: run it in an executor. Raises `PreviewUnavailable` or `LabelDataError`.
        """
        with self.store.reading() as repo:
            latest = latest_shipping_job(repo.db, order.order_id)
        return label_preview_png(order, self.labels, latest.zpl if latest is not None else None)


def _sendable(j: PrintJob) -> bool:
    return j.state is JobState.QUEUED or (j.state is JobState.FAILED and j.retryable)


def _judge(before: int | None, count: int | None, expected: int) -> tuple[str, str]:
    """What the counter says about a job sent when it read `before`: printed, nothing, or unknown (why)."""
    if before is None:
        return "unknown", "no_counter_before_send"
    if count is None:
        return "unknown", "counter_unreadable"
    moved = count - before
    if moved >= expected:
        return "printed", ""
    if moved == 0:
        return "nothing", ""
    return "unknown", "counter_went_back" if moved < 0 else "partly_printed"
