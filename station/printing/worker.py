"""The print worker: one thread per printer that sends queued jobs one at a time and settles each by the
printer's label counter.

All blocking printer I/O happens on this thread, never on the event loop and never inside a database
transaction. For each job it asks the printer's status (not ready: the job waits, the printer is reported
down and asked again with growing pauses, `availability`); reads the counter and commits ``sending``
*before* the job's first byte leaves; prints; and commits the printer's verdict (`queue.record_report`).

At start, and after a pass that failed mid-job, the jobs left in ``sending`` are settled by the counter
first (`recovery`); orders that became packed get their first label queued (`autoprint`).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from station.events import Envelope, EventType
from station.orders.model import Order, Status
from station.printing.autoprint import AutoPrint
from station.printing.availability import DeviceState, PrinterAvailability
from station.printing.errors import LabelDataError, PreviewUnavailable
from station.printing.jobs import DEFAULT_PRINTER, JobKind, JobState, LabelEvent, PrintJob
from station.printing.labels import LabelMaker, label_preview_png
from station.printing.ports import JobReport, LabelPrinter, LabelRendering
from station.printing.queue import (
    PrintConfirmation,
    forget_old_zpl,
    job,
    last_printed_shipping_job,
    latest_shipping_job,
    mark_sending,
    next_job,
    record_failed,
    record_report,
    sending_jobs,
)
from station.printing.recovery import SendingRecovery
from station.printing.settings import PrintingSettings
from station.store import Store

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
_DAY_MS = 86_400_000


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
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._availability = PrinterAvailability(store, settings, name, device_state=device_state, monotonic=monotonic)
        self._recovery = SendingRecovery(
            store, printer, self._availability, settle_s=settings.recovery_settle_s, stop=self._stop
        )
        self._recovered = False
        self._autoprint = AutoPrint(store, settings, name)
        self._packed_hint = True  # look at the event log once at start: packed orders may await their label
        self._next_prune_at = 0.0
        store.subscribe(self._handle_committed)
        # From here on, every order that becomes packed gets its label, even if the thread starts later.
        with store.transaction() as tx:
            self._availability.resume(tx.repo.db)
            self._autoprint.start(tx)

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
            self._packed_hint = False  # before reading, so a hint arriving meanwhile is not lost
            self._autoprint.catch_up()  # needs no printer: the label is queued (and visible) even while it is down
        available = self._availability
        now = self._monotonic()
        if available.down and now < available.next_status_at:
            return available.next_status_at - now
        if not self._recovered:
            self._recovered = self._recovery.settle_all()
            if not self._recovered:
                return available.seconds_to_next_ask()
        with self.store.reading() as repo:
            waiting = next_job(repo.db, self.name)
        if waiting is None:
            if now >= self._next_prune_at:
                self._prune()
            if now >= available.next_status_at:
                available.check(self.printer)
            return available.seconds_to_next_ask()
        return self._send(waiting)

    def run_until_idle(self, max_passes: int = 1000) -> None:
        """Run passes in this thread until nothing is left to send, or the printer is not ready (tests and
        tools; never on the event loop)."""
        for _ in range(max_passes):
            delay = self.step()
            if self._availability.down:
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
        self._availability.ask_now()
        self._wake.set()

    # -- the store's notifications (called on the committing thread: never block) ------------------------------
    def _handle_committed(self, events: list[Envelope]) -> None:
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

    def _prune(self) -> None:
        self._next_prune_at = self._monotonic() + PRUNE_EVERY_S
        with self.store.transaction() as tx:
            cutoff = tx.wall_now_ms() - int(self.settings.keep_zpl_days * _DAY_MS)
            dropped = forget_old_zpl(tx, cutoff)
        if dropped:
            logger.info("print queue %s: dropped the stored ZPL of %d old jobs", self.name, dropped)

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
            return self._availability.went_down(status.reasons)
        self._availability.came_up()
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
            return self._availability.went_down([r for r in reasons if r] or ["not_ready"])
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
            record_report(tx, sending, report)
        logger.info(
            "print queue %s: job %s %s (%s), counter %s -> %s",
            self.name,
            sending.job_id,
            report.state,
            report.reason,
            sending.odometer_before,
            report.odometer_after,
        )

    # -- for the rest of the station ---------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The printer's state for `/health` (no I/O: the worker's last word)."""
        return {
            "ok": not self._availability.down,
            "printer": self.name,
            "device": self.printer.description,
            "reasons": list(self._availability.reasons),
            "running": self.running,
        }

    def preview_png(self, order: Order) -> bytes:
        """The order's label as PNG: the one last sent to the printer if any, else made from the order now.

        Blocking CPU work: run it in an executor. Raises `PreviewUnavailable` or `LabelDataError`.
        """
        with self.store.reading() as repo:
            latest = latest_shipping_job(repo.db, order.order_id)
        return label_preview_png(order, self.labels, latest.zpl if latest is not None else None)

    def printed_label_png(self, order_id: str) -> bytes | None:
        """The label last printed for the order (one no change of the order voided) as PNG, for its evidence
        bundle; None when none was printed or it cannot be drawn here. Blocking: run it in an executor."""
        with self.store.reading() as repo:
            printed = last_printed_shipping_job(repo.db, order_id)
        if printed is None or printed.zpl is None:
            return None
        try:
            return self.labels.png(printed.zpl)
        except (PreviewUnavailable, LabelDataError) as err:
            logger.warning("print queue %s: the label of order %s cannot be drawn: %s", self.name, order_id, err)
            return None


def _sendable(j: PrintJob) -> bool:
    return j.state is JobState.QUEUED or (j.state is JobState.FAILED and j.retryable)
