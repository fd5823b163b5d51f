"""Settling the jobs a stopped station left in ``sending``, by the printer's label counter, never by resending.

If the counter moved by the job's labels, the job is done. If it did not move, whatever the printer still
holds is cancelled (``~JA``) and, the counter still unmoved after `recovery_settle_s`, the job goes back to
the queue. Anything else is ``unknown``, with an alert for a person.
"""

import logging
import threading

from station.printing.availability import PrinterAvailability
from station.printing.jobs import JobState, PrintJob
from station.printing.ports import LabelPrinter
from station.printing.queue import job, record_done, record_unknown, requeue, sending_jobs
from station.store import Store

logger = logging.getLogger(__name__)

# Status reasons that say the printer was not reached at all: its counter says nothing about a job.
_LINK_DOWN = ("unreachable", "no_answer")


def judge(before: int | None, count: int | None, expected: int) -> tuple[str, str]:
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


class SendingRecovery:
    """Settles one printer's jobs left in ``sending`` (run on the print worker's thread: it blocks)."""

    def __init__(
        self,
        store: Store,
        printer: LabelPrinter,
        availability: PrinterAvailability,
        *,
        settle_s: float,
        stop: threading.Event,
    ) -> None:
        """Ask `printer` (tracked by `availability`); wait `settle_s` after a cancel, unless `stop` is set."""
        self.store = store
        self.printer = printer
        self.availability = availability
        self.name = availability.name
        self._settle_s = settle_s
        self._stop = stop

    def settle_all(self) -> bool:
        """Settle every job left in `sending`; False while the printer cannot be asked (try again later)."""
        with self.store.reading() as repo:
            left = sending_jobs(repo.db, self.name)
        return all(self._settle(j) for j in left)

    def _settle(self, j: PrintJob) -> bool:
        logger.warning(
            "print queue %s: job %s was being sent when the station stopped; asking the counter", self.name, j.job_id
        )
        status = self.printer.status()
        if status.odometer is None and any(r in _LINK_DOWN for r in status.reasons):
            self.availability.went_down(status.reasons)
            return False
        if not status.ready:
            self.availability.went_down(status.reasons)
        verdict, why = judge(j.odometer_before, status.odometer, j.labels)
        if verdict == "nothing":
            # Not counted yet, but it may still wait in the printer: cancel it so it can never come out later,
            # give a label already under the head time to finish, then look again.
            try:
                self.printer.cancel_all()
            except Exception as err:
                self._settled(j, "unknown", "cancel_failed", str(err), status.odometer)
                return True
            if self._stop.wait(self._settle_s):
                return False  # stopping: decide at the next start rather than on a cut-short look
            after = self.printer.odometer()
            verdict, why = judge(j.odometer_before, after, j.labels)
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
