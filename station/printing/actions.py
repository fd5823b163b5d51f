"""People's print requests, each audited: a first or SSCC label, a reprint, and settling a job in doubt.

Every refusal is recorded as `action.refused` with its reason; an accepted request queues a job (see
`station.printing.queue`). Reprints and settling are for supervisors and the hub only.
"""

from typing import Any

from station.events import Actor, EventType, NewEvent
from station.orders.model import Role
from station.printing.jobs import (
    DEFAULT_PRINTER,
    REPRINT_ROLES,
    REPRINTABLE_STATUSES,
    JobKind,
    JobState,
    LabelEvent,
    PrintRequest,
)
from station.printing.queue import (
    insert_job,
    job,
    last_printed_shipping_job,
    latest_shipping_job,
    record_done,
    record_failed,
)
from station.store import Store, Tx

_REASON_MAX = 500


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
        printed = last_printed_shipping_job(tx.repo.db, order_id)
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
