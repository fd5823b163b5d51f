"""The persistent print queue: reading its jobs, and every state change of a job committed with its event.

A job moves ``queued → sending → done | failed | unknown``. ``sending`` is committed, with the label counter
read just before, *before* any byte of the job goes to the printer, so a station killed mid-job finds the job
in ``sending`` at its next start and settles it by the counter instead of resending it blindly (see
`station.printing.recovery`). A ``failed`` job that never left the station (``retryable``) is sent again when
the printer is ready; one that was sent is never resent automatically: a person decides, and a reprint is
a new job (``kind = reprint``) with who asked for it and why (`station.printing.actions`).

Events (written in the same transaction as the row change; `LabelEvent`): ``label.queued``,
``label.sending``, ``label.printed``, ``label.failed``, ``label.unknown``; and the alerts of
`station.printing.alert_policy`.

The functions here take a `Tx` (for the worker) or a `Store` (for readers); none does printer I/O.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from station.events import Actor, NewEvent
from station.ids import uuid7
from station.orders.model import Role, Status
from station.printing import alert_policy
from station.printing.jobs import JobKind, JobState, LabelEvent, PrintJob, clip, count_labels, printer_actor
from station.printing.ports import JobReport
from station.store import Store, Tx

# -- reading ----------------------------------------------------------------------------------------------------


def _one(db: sqlite_utils.Database, sql: str, params: Iterable[Any]) -> PrintJob | None:
    row = next(db.query(sql, list(params)), None)
    return None if row is None else PrintJob.from_row(row)


def job(db: sqlite_utils.Database, job_id: str) -> PrintJob | None:
    """A job by id (`db`: a sqlite-utils Database, e.g. `tx.repo.db` or `repo.db`)."""
    return _one(db, "SELECT * FROM print_jobs WHERE job_id = ?", [job_id])


def latest_shipping_job(db: sqlite_utils.Database, order_id: str) -> PrintJob | None:
    """The order's newest shipping label job (first print or reprint) that no change of the order voided."""
    # Jobs at or below the order's newest label void (`station.orders.revision.void_labels`: the order changed
    # after they were printed) are no longer its labels: not printed for it, not repeated by a reprint.
    return _one(
        db,
        "SELECT * FROM print_jobs WHERE order_id = ? AND kind IN ('label', 'reprint') "
        "AND job_no > (SELECT coalesce(max(through_job_no), 0) FROM label_voids WHERE order_id = ?) "
        "ORDER BY job_no DESC LIMIT 1",
        [order_id, order_id],
    )


def last_printed_shipping_job(db: sqlite_utils.Database, order_id: str) -> PrintJob | None:
    """The order's newest shipping label job that printed and still has its ZPL (what a reprint repeats)."""
    return _one(
        db,
        "SELECT * FROM print_jobs WHERE order_id = ? AND kind IN ('label', 'reprint') AND state = 'done' "
        "AND zpl IS NOT NULL "
        "AND job_no > (SELECT coalesce(max(through_job_no), 0) FROM label_voids WHERE order_id = ?) "
        "ORDER BY job_no DESC LIMIT 1",
        [order_id, order_id],
    )


def next_job(db: sqlite_utils.Database, printer: str) -> PrintJob | None:
    """The oldest job waiting to be sent: queued, or failed without having been sent."""
    return _one(
        db,
        "SELECT * FROM print_jobs WHERE printer = ? AND state IN ('queued', 'failed') AND (state = 'queued' OR "
        "retryable = 1) ORDER BY job_no LIMIT 1",
        [printer],
    )


def sending_jobs(db: sqlite_utils.Database, printer: str) -> list[PrintJob]:
    """Jobs left in `sending` (the station stopped mid-job), oldest first."""
    rows = db.query("SELECT * FROM print_jobs WHERE printer = ? AND state = 'sending' ORDER BY job_no", [printer])
    return [PrintJob.from_row(r) for r in rows]


def jobs_for_order(store: Store, order_id: str) -> list[PrintJob]:
    """Every print job of an order, oldest first."""
    with store.reading() as repo:
        rows = repo.db.query("SELECT * FROM print_jobs WHERE order_id = ? ORDER BY job_no", [order_id])
        return [PrintJob.from_row(r) for r in rows]


def label_printed(store: Store, order_id: str) -> bool:
    """True when the order's newest shipping label job is done (the printer's counter confirmed it)."""
    with store.reading() as repo:
        latest = latest_shipping_job(repo.db, order_id)
    return latest is not None and latest.state is JobState.DONE


class PrintConfirmation:
    """The printer's word for the `packed → labeled` guard (`station.devices.ports.LabelConfirmation`)."""

    def __init__(self, store: Store) -> None:
        """Answer from `store`'s print queue."""
        self._store = store

    def label_printed(self, order_id: str) -> bool:
        """True when the order's newest shipping label job is done."""
        return label_printed(self._store, order_id)


# -- state changes inside a transaction --------------------------------------------------------------------------


def _job_data(j: PrintJob, **extra: Any) -> dict[str, Any]:
    return {"job_id": j.job_id, "kind": j.kind.value, "printer": j.printer, **extra}


def insert_job(
    tx: Tx,
    *,
    printer: str,
    order_id: str | None,
    kind: JobKind,
    actor: Actor,
    zpl: str | None = None,
    request_reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[PrintJob, int]:
    """Add a queued job and its `label.queued` event; return the job and the event's seq.

    `zpl` may be None: the worker renders it from the order just before sending.
    """
    now = tx.wall_now_ms()
    job_id = str(uuid7(now))
    requested = actor.role in (Role.SUPERVISOR.value, Role.HUB.value, Role.PACKER.value)
    tx.repo.db.execute(
        "INSERT INTO print_jobs (job_id, printer, order_id, kind, state, zpl, labels, requested_by, requested_role, "
        "request_reason, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
        [
            job_id,
            printer,
            order_id,
            kind.value,
            zpl,
            count_labels(zpl) if zpl else 1,
            actor.id if requested else None,
            actor.role if requested else None,
            request_reason,
            now,
            now,
        ],
    )
    new = job(tx.repo.db, job_id)
    assert new is not None
    env = tx.append(NewEvent(LabelEvent.QUEUED, actor, order_id, _job_data(new, **dict(extra or {}))))
    return new, int(env["seq"])


def mark_sending(tx: Tx, j: PrintJob, zpl: str, odometer_before: int | None) -> PrintJob:
    """Queued (or failed unsent) → sending, with the ZPL about to go out and the counter just read."""
    now = tx.wall_now_ms()
    attempt = j.attempts + 1
    tx.repo.db.execute(
        "UPDATE print_jobs SET state = 'sending', retryable = 0, zpl = ?, labels = ?, attempts = ?, "
        "odometer_before = ?, odometer_after = NULL, reason = NULL, detail = NULL, sent_at_ms = ?, "
        "updated_at_ms = ? WHERE job_id = ?",
        [zpl, count_labels(zpl), attempt, odometer_before, now, now, j.job_id],
    )
    tx.append(
        NewEvent(
            LabelEvent.SENDING,
            printer_actor(j.printer),
            j.order_id,
            _job_data(j, attempt=attempt, odometer_before=odometer_before),
        )
    )
    updated = job(tx.repo.db, j.job_id)
    assert updated is not None
    return updated


def record_done(
    tx: Tx,
    j: PrintJob,
    *,
    reason: str | None,
    odometer_after: int | None,
    detail: str | None = None,
    actor: Actor | None = None,
) -> None:
    """The label came out: `label.printed`, and the order's label alerts are settled."""
    now = tx.wall_now_ms()
    actor = actor or printer_actor(j.printer)
    tx.repo.db.execute(
        "UPDATE print_jobs SET state = 'done', retryable = 0, reason = ?, detail = ?, odometer_after = ?, "
        "finished_at_ms = ?, updated_at_ms = ? WHERE job_id = ?",
        [reason, clip(detail), odometer_after, now, now, j.job_id],
    )
    tx.append(
        NewEvent(
            LabelEvent.PRINTED,
            actor,
            j.order_id,
            _job_data(
                j,
                reason=reason,
                attempts=j.attempts,
                odometer_before=j.odometer_before,
                odometer_after=odometer_after,
            ),
        )
    )
    alert_policy.label_came_out(tx, j, actor)


def record_failed(
    tx: Tx,
    j: PrintJob,
    *,
    reason: str,
    detail: str | None,
    sent: bool,
    odometer_after: int | None = None,
    actor: Actor | None = None,
    retry: bool | None = None,
    alert: bool = True,
) -> None:
    """Nothing printed. Unsent: retried when the printer is ready (unless `retry` is False, e.g. a label that
    cannot be made). Otherwise a person decides, so an alert is raised (unless `alert` is False: the person
    deciding is the one recording it)."""
    now = tx.wall_now_ms()
    actor = actor or printer_actor(j.printer)
    retry = not sent if retry is None else retry and not sent
    tx.repo.db.execute(
        "UPDATE print_jobs SET state = 'failed', retryable = ?, reason = ?, detail = ?, odometer_after = ?, "
        "finished_at_ms = ?, updated_at_ms = ? WHERE job_id = ?",
        [int(retry), reason, clip(detail), odometer_after, now, now, j.job_id],
    )
    tx.append(
        NewEvent(
            LabelEvent.FAILED,
            actor,
            j.order_id,
            _job_data(j, reason=reason, detail=clip(detail), sent=sent, retry=retry, attempts=j.attempts),
        )
    )
    alert_policy.job_no_longer_in_doubt(tx, j, actor)
    if not retry and alert:
        alert_policy.job_failed_for_good(tx, j, actor, reason)


def record_unknown(tx: Tx, j: PrintJob, *, reason: str, detail: str | None, odometer_after: int | None) -> None:
    """The counter cannot tell whether the label came out: `label.unknown` and an alert for a person."""
    now = tx.wall_now_ms()
    actor = printer_actor(j.printer)
    tx.repo.db.execute(
        "UPDATE print_jobs SET state = 'unknown', retryable = 0, reason = ?, detail = ?, odometer_after = ?, "
        "finished_at_ms = ?, updated_at_ms = ? WHERE job_id = ?",
        [reason, clip(detail), odometer_after, now, now, j.job_id],
    )
    tx.append(
        NewEvent(
            LabelEvent.UNKNOWN,
            actor,
            j.order_id,
            _job_data(j, reason=reason, detail=clip(detail), odometer_before=j.odometer_before, attempts=j.attempts),
        )
    )
    alert_policy.job_in_doubt(tx, j, actor, reason)


def record_report(tx: Tx, j: PrintJob, report: JobReport) -> None:
    """Record what the printer said about a job it was sent: done, failed or unknown."""
    if report.state == "done":
        record_done(tx, j, reason=report.reason, odometer_after=report.odometer_after, detail=report.detail)
    elif report.state == "failed":
        record_failed(
            tx,
            j,
            reason=report.reason or "failed",
            detail=report.detail,
            sent=report.sent,
            odometer_after=report.odometer_after,
        )
    else:
        record_unknown(
            tx, j, reason=report.reason or "unknown", detail=report.detail, odometer_after=report.odometer_after
        )


def requeue(tx: Tx, j: PrintJob, *, reason: str) -> None:
    """Sending → queued: the counter proved nothing printed and the printer holds nothing of it any more."""
    now = tx.wall_now_ms()
    tx.repo.db.execute(
        "UPDATE print_jobs SET state = 'queued', retryable = 0, reason = ?, updated_at_ms = ? WHERE job_id = ?",
        [reason, now, j.job_id],
    )
    tx.append(
        NewEvent(
            LabelEvent.QUEUED,
            printer_actor(j.printer),
            j.order_id,
            _job_data(j, requeued=True, reason=reason, attempts=j.attempts, odometer_before=j.odometer_before),
        )
    )


def queue_first_label(tx: Tx, order_id: str, printer: str, actor: Actor) -> PrintJob | None:
    """Queue an order's first shipping label; None when it has one already (printed, waiting or in doubt),
    or the order is not packed. Reprints are never made here."""
    order = tx.repo.order(order_id)
    if order is None or order.status is not Status.PACKED:
        return None
    if latest_shipping_job(tx.repo.db, order_id) is not None:
        return None
    new, _ = insert_job(tx, printer=printer, order_id=order_id, kind=JobKind.LABEL, actor=actor)
    return new


def forget_old_zpl(tx: Tx, finished_before_ms: int) -> int:
    """Drop the stored ZPL of jobs settled before `finished_before_ms`; return how many.

    Labels with rasterised Chinese are 5-15 KB each, too much to keep for ever on an SD card. A job in doubt
    (`unknown`) keeps its ZPL until a person settles it.
    """
    cur = tx.repo.db.execute(
        "UPDATE print_jobs SET zpl = NULL WHERE zpl IS NOT NULL AND state IN ('done', 'failed') AND retryable = 0 "
        "AND finished_at_ms < ?",
        [finished_before_ms],
    )
    return int(cur.rowcount)
