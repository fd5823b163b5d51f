"""The persistent print queue: one row per print job, every state change committed with its event.

A job moves ``queued → sending → done | failed | unknown``. ``sending`` is committed, with the label counter
read just before, *before* any byte of the job goes to the printer, so a station killed mid-job finds the job
in ``sending`` at its next start and settles it by the counter instead of resending it blindly (see
`station.printing.worker`). A ``failed`` job that never left the station (``retryable``) is sent again when
the printer is ready; one that was sent is never resent automatically: a person decides, and a reprint is
a new job (``kind = reprint``) with who asked for it and why.

Events (written in the same transaction as the row change; `LabelEvent`): ``label.queued``,
``label.sending``, ``label.printed``, ``label.failed``, ``label.unknown``, ``label.reprint_requested``;
and ``alert.raised`` / ``alert.cleared`` for ``device_down`` (subject: the printer), ``label_unknown`` and
``label_failed`` (subject: the job id). Active alerts are kept in ``print_alerts`` so each is raised once
and cleared once.

The functions here take a `Tx` (for the worker) or a `Store` (for people's actions); none does printer I/O.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from station.events import Actor, EventType, NewEvent
from station.ids import uuid7
from station.orders.model import Role, Status
from station.store import Store, Tx

DEFAULT_PRINTER = "printer"
MAX_DETAIL = 300  # a printer's free text is for people; keep events small
_REASON_MAX = 500


class LabelEvent:
    """Event types of the print queue."""

    QUEUED = "label.queued"
    SENDING = "label.sending"
    PRINTED = "label.printed"
    FAILED = "label.failed"
    UNKNOWN = "label.unknown"
    REPRINT_REQUESTED = "label.reprint_requested"


class Alert:
    """Alert names the print queue raises (`alert.raised` data `alert`)."""

    DEVICE_DOWN = "device_down"
    LABEL_UNKNOWN = "label_unknown"
    LABEL_FAILED = "label_failed"


class JobState(StrEnum):
    """Where a print job is."""

    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class JobKind(StrEnum):
    """What a print job prints."""

    LABEL = "label"  # the order's shipping label, printed once
    REPRINT = "reprint"  # the shipping label again, on an audited request
    SSCC = "sscc"  # a GS1-128 pallet/carton label (AI 00)


SHIPPING_KINDS = (JobKind.LABEL, JobKind.REPRINT)
REPRINT_ROLES = (Role.SUPERVISOR, Role.HUB)
# A reprint for an order in these states: a label on a box that is still here.
REPRINTABLE_STATUSES = (Status.PACKED, Status.LABELED)


@dataclass(frozen=True, slots=True)
class PrintJob:
    """One row of the print queue."""

    job_no: int
    job_id: str
    printer: str
    order_id: str | None
    kind: JobKind
    state: JobState
    zpl: str | None
    labels: int
    attempts: int
    retryable: bool
    reason: str | None
    detail: str | None
    odometer_before: int | None
    odometer_after: int | None
    requested_by: str | None
    requested_role: str | None
    request_reason: str | None
    created_at_ms: int
    updated_at_ms: int
    sent_at_ms: int | None
    finished_at_ms: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "PrintJob":
        """Build from a `print_jobs` row."""
        return cls(
            job_no=row["job_no"],
            job_id=row["job_id"],
            printer=row["printer"],
            order_id=row["order_id"],
            kind=JobKind(row["kind"]),
            state=JobState(row["state"]),
            zpl=row["zpl"],
            labels=row["labels"],
            attempts=row["attempts"],
            retryable=bool(row["retryable"]),
            reason=row["reason"],
            detail=row["detail"],
            odometer_before=row["odometer_before"],
            odometer_after=row["odometer_after"],
            requested_by=row["requested_by"],
            requested_role=row["requested_role"],
            request_reason=row["request_reason"],
            created_at_ms=row["created_at_ms"],
            updated_at_ms=row["updated_at_ms"],
            sent_at_ms=row["sent_at_ms"],
            finished_at_ms=row["finished_at_ms"],
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view without the ZPL (for the API and logs)."""
        return {
            "job_id": self.job_id,
            "printer": self.printer,
            "order_id": self.order_id,
            "kind": self.kind.value,
            "state": self.state.value,
            "labels": self.labels,
            "attempts": self.attempts,
            "retryable": self.retryable,
            "reason": self.reason,
            "detail": self.detail,
            "odometer_before": self.odometer_before,
            "odometer_after": self.odometer_after,
            "requested_by": self.requested_by,
            "requested_role": self.requested_role,
            "request_reason": self.request_reason,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "sent_at_ms": self.sent_at_ms,
            "finished_at_ms": self.finished_at_ms,
        }


@dataclass(frozen=True, slots=True)
class PrintRequest:
    """The answer to a print, reprint or resolve request: a job, or a refusal (recorded as an event)."""

    refusal: str | None
    job_id: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when the request was accepted."""
        return self.refusal is None


_PQ = re.compile(r"\^PQ(\d+)")


def count_labels(zpl: str) -> int:
    """Labels a job prints: one per ``^XA ... ^XZ`` format, times its ``^PQ`` quantity (at least 1)."""
    total = 0
    for chunk in zpl.split("^XZ")[:-1]:
        if "^XA" not in chunk:
            continue
        quantity = _PQ.search(chunk)
        total += int(quantity.group(1)) if quantity else 1
    return max(total, 1)


def printer_actor(printer: str) -> Actor:
    """The actor of events the print worker writes on its own."""
    return Actor(role=Role.SYSTEM.value, device=printer)


def clip(text: str | None, limit: int = MAX_DETAIL) -> str | None:
    """Text shortened for an event or a row."""
    return None if text is None else text[:limit]


# -- reading ----------------------------------------------------------------------------------------------------


def _one(db: Any, sql: str, params: Iterable[Any]) -> PrintJob | None:
    row = next(db.query(sql, list(params)), None)
    return None if row is None else PrintJob.from_row(row)


def job(db: Any, job_id: str) -> PrintJob | None:
    """A job by id (`db`: a sqlite-utils Database, e.g. `tx.repo.db` or `repo.db`)."""
    return _one(db, "SELECT * FROM print_jobs WHERE job_id = ?", [job_id])


def latest_shipping_job(db: Any, order_id: str) -> PrintJob | None:
    """The order's newest shipping label job (first print or reprint)."""
    return _one(
        db,
        "SELECT * FROM print_jobs WHERE order_id = ? AND kind IN ('label', 'reprint') ORDER BY job_no DESC LIMIT 1",
        [order_id],
    )


def next_job(db: Any, printer: str) -> PrintJob | None:
    """The oldest job waiting to be sent: queued, or failed without having been sent."""
    return _one(
        db,
        "SELECT * FROM print_jobs WHERE printer = ? AND state IN ('queued', 'failed') AND (state = 'queued' OR "
        "retryable = 1) ORDER BY job_no LIMIT 1",
        [printer],
    )


def sending_jobs(db: Any, printer: str) -> list[PrintJob]:
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


# -- alerts -----------------------------------------------------------------------------------------------------


def alert_active(db: Any, alert: str, subject: str) -> bool:
    """True while this alert is raised and not cleared."""
    row = next(db.query("SELECT 1 AS hit FROM print_alerts WHERE alert = ? AND subject = ?", [alert, subject]), None)
    return row is not None


def raise_alert(tx: Tx, alert: str, subject: str, actor: Actor, order_id: str | None = None, **data: Any) -> bool:
    """Raise an alert unless it is already active; False when it was."""
    if alert_active(tx.repo.db, alert, subject):
        return False
    env = tx.append(
        NewEvent(EventType.ALERT_RAISED, actor, order_id, {"alert": alert, "subject": subject, **data}),
    )
    tx.repo.db.execute(
        "INSERT INTO print_alerts (alert, subject, order_id, raised_seq) VALUES (?, ?, ?, ?)",
        [alert, subject, order_id, env["seq"]],
    )
    return True


def clear_alert(tx: Tx, alert: str, subject: str, actor: Actor, **data: Any) -> bool:
    """Clear an active alert; False when it was not active."""
    row = next(
        tx.repo.db.query("SELECT order_id FROM print_alerts WHERE alert = ? AND subject = ?", [alert, subject]),
        None,
    )
    if row is None:
        return False
    tx.repo.db.execute("DELETE FROM print_alerts WHERE alert = ? AND subject = ?", [alert, subject])
    tx.append(NewEvent(EventType.ALERT_CLEARED, actor, row["order_id"], {"alert": alert, "subject": subject, **data}))
    return True


def _clear_order_label_alerts(tx: Tx, order_id: str | None, actor: Actor, job_id: str) -> None:
    """A label of this order came out: the alerts about its earlier jobs are settled."""
    if order_id is None:
        return
    rows = list(
        tx.repo.db.query(
            "SELECT alert, subject FROM print_alerts WHERE order_id = ? AND alert IN (?, ?) ORDER BY raised_seq",
            [order_id, Alert.LABEL_UNKNOWN, Alert.LABEL_FAILED],
        )
    )
    for row in rows:
        clear_alert(tx, row["alert"], row["subject"], actor, settled_by=job_id)


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
    clear_alert(tx, Alert.LABEL_UNKNOWN, j.job_id, actor, settled_by=j.job_id)
    clear_alert(tx, Alert.LABEL_FAILED, j.job_id, actor, settled_by=j.job_id)
    _clear_order_label_alerts(tx, j.order_id, actor, j.job_id)


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
    clear_alert(tx, Alert.LABEL_UNKNOWN, j.job_id, actor, settled_by=j.job_id)
    if not retry and alert:
        raise_alert(
            tx,
            Alert.LABEL_FAILED,
            j.job_id,
            actor,
            j.order_id,
            job_id=j.job_id,
            reason=reason,
            printer=j.printer,
        )


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
    raise_alert(tx, Alert.LABEL_UNKNOWN, j.job_id, actor, j.order_id, job_id=j.job_id, reason=reason, printer=j.printer)


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


# -- people's actions -------------------------------------------------------------------------------------------


def _refuse(tx: Tx, actor: Actor, order_id: str | None, action: str, reason: str, **data: Any) -> PrintRequest:
    env = tx.append(NewEvent(EventType.ACTION_REFUSED, actor, order_id, {"action": action, "reason": reason, **data}))
    return PrintRequest(reason, seq=int(env["seq"]))


def _role(actor: Actor) -> Role | None:
    try:
        return Role(actor.role)
    except ValueError:
        return None


def enqueue_label(
    store: Store, order_id: str, actor: Actor, *, kind: JobKind = JobKind.LABEL, printer: str = DEFAULT_PRINTER
) -> PrintRequest:
    """Queue an order's first shipping label (when auto-print is off) or its SSCC label.

    Refused (and recorded) when the order is unknown or not packed/labeled, or, for a shipping label, when
    it already has one: a second shipping label is a reprint (`request_reprint`).
    """
    if kind is JobKind.REPRINT:
        raise ValueError("a reprint goes through request_reprint(), which records who asked and why")
    with store.transaction() as tx:
        order = tx.repo.order(order_id)
        action = f"print_{kind.value}"
        if order is None:
            return _refuse(tx, actor, None, action, "unknown_order", order_ref=order_id[:64])
        if order.status not in REPRINTABLE_STATUSES:
            return _refuse(tx, actor, order_id, action, "order_not_packed", status=order.status.value)
        if kind is JobKind.LABEL and latest_shipping_job(tx.repo.db, order_id) is not None:
            return _refuse(tx, actor, order_id, action, "label_exists")
        if kind is JobKind.SSCC and not order.document.get("sscc"):
            return _refuse(tx, actor, order_id, action, "no_sscc")
        new, seq = insert_job(tx, printer=printer, order_id=order_id, kind=kind, actor=actor)
        return PrintRequest(None, new.job_id, seq)


def request_reprint(
    store: Store,
    order_id: str,
    actor: Actor,
    reason: str,
    *,
    rerender: bool = False,
    printer: str | None = None,
) -> PrintRequest:
    """Queue a reprint of an order's shipping label: a supervisor's or the hub's explicit, audited decision.

    Refusals (each recorded as `action.refused`): ``needs_supervisor`` (any other role), ``reason_required``,
    ``unknown_order``, ``order_not_packed`` (only packed or labeled orders have a box to label),
    ``label_in_progress`` (a label for the order is queued, being sent or waiting for the printer).
    The reprint carries the same ZPL as the last label printed, so the box gets the very same label;
    `rerender=True` makes it from the order's current data instead (the order was corrected).
    """
    with store.transaction() as tx:
        return reprint_in(tx, order_id, actor, reason, rerender=rerender, printer=printer)


def reprint_in(
    tx: Tx,
    order_id: str,
    actor: Actor,
    reason: str,
    *,
    rerender: bool = False,
    printer: str | None = None,
) -> PrintRequest:
    """`request_reprint` inside a transaction the caller holds (e.g. a bench scan: CMD:REPRINT + badge)."""
    action = "reprint_label"
    reason_text = (reason or "").strip()[:_REASON_MAX]
    if _role(actor) not in REPRINT_ROLES:
        return _refuse(tx, actor, order_id, action, "needs_supervisor", role=actor.role)
    if not reason_text:
        return _refuse(tx, actor, order_id, action, "reason_required")
    order = tx.repo.order(order_id)
    if order is None:
        return _refuse(tx, actor, None, action, "unknown_order", order_ref=order_id[:64])
    if order.status not in REPRINTABLE_STATUSES:
        return _refuse(tx, actor, order_id, action, "order_not_packed", status=order.status.value)
    previous = latest_shipping_job(tx.repo.db, order_id)
    if previous is not None and (
        previous.state in (JobState.QUEUED, JobState.SENDING)
        or (previous.state is JobState.FAILED and previous.retryable)
    ):
        return _refuse(tx, actor, order_id, action, "label_in_progress", job_id=previous.job_id)
    zpl = None
    if not rerender:
        printed = _one(
            tx.repo.db,
            "SELECT * FROM print_jobs WHERE order_id = ? AND kind IN ('label', 'reprint') AND state = 'done' "
            "AND zpl IS NOT NULL ORDER BY job_no DESC LIMIT 1",
            [order_id],
        )
        zpl = printed.zpl if printed is not None else None
    target = printer or (previous.printer if previous is not None else DEFAULT_PRINTER)
    tx.append(
        NewEvent(
            LabelEvent.REPRINT_REQUESTED,
            actor,
            order_id,
            {
                "reason": reason_text,
                "previous_job_id": previous.job_id if previous else None,
                "previous_state": previous.state.value if previous else None,
                "rerender": rerender,
            },
        )
    )
    new, seq = insert_job(
        tx,
        printer=target,
        order_id=order_id,
        kind=JobKind.REPRINT,
        actor=actor,
        zpl=zpl,
        request_reason=reason_text,
        extra={"reason": reason_text},
    )
    return PrintRequest(None, new.job_id, seq)


def resolve_unknown(store: Store, job_id: str, actor: Actor, *, printed: bool, reason: str) -> PrintRequest:
    """A person looked at the printer and says whether an `unknown` job's label came out (audited).

    `printed=True` settles the job as done (the `labeled` guard then accepts the waybill scan); False
    settles it as failed, after which a reprint may be requested. Supervisors and the hub only.
    """
    action = "resolve_label"
    reason_text = (reason or "").strip()[:_REASON_MAX]
    with store.transaction() as tx:
        j = job(tx.repo.db, job_id)
        order_id = j.order_id if j else None
        if _role(actor) not in REPRINT_ROLES:
            return _refuse(tx, actor, order_id, action, "needs_supervisor", job_id=job_id[:64], role=actor.role)
        if not reason_text:
            return _refuse(tx, actor, order_id, action, "reason_required", job_id=job_id[:64])
        if j is None:
            return _refuse(tx, actor, None, action, "unknown_job", job_id=job_id[:64])
        if j.state is not JobState.UNKNOWN:
            return _refuse(tx, actor, order_id, action, "job_not_unknown", job_id=job_id, state=j.state.value)
        detail = f"settled by {actor.role} {actor.id or ''}: {reason_text}".strip()
        if printed:
            record_done(
                tx, j, reason="confirmed_by_person", odometer_after=j.odometer_after, detail=detail, actor=actor
            )
        else:
            record_failed(tx, j, reason="not_printed_by_person", detail=detail, sent=True, actor=actor, alert=False)
        return PrintRequest(None, j.job_id, tx.events[-1]["seq"] if tx.events else None)
