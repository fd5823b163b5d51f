"""The event stream as the hub receives it: the envelope and each event type's `data`, as typed dictionaries.

This is the one place that says what an event carries (CONTRACT.md, "Events"). The station builds its events
with these types (`station.events` re-exports them), the sync agent publishes `Envelope`s, and a hub reads
them; `EVENT_DATA` maps every type name to the shape of its `data`, and `data_problems` checks one event
against it (the station's test suite checks every event it writes).

A key in `Required[...]` is always present; the others appear when they apply (for example `item.verified`
carries `serial` only for a serialised line). A type not listed here is still valid on the wire: a hub must
store unknown types like the others.
"""

from collections.abc import Mapping
from typing import Any, NotRequired, Required

from pydantic import ConfigDict, TypeAdapter, ValidationError

# pydantic checks TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict


class ActorDict(TypedDict):
    """Who caused an event, and through which device and bench."""

    id: str | None
    role: str
    device: str | None
    bench: str | None


class ClockDict(TypedDict):
    """A hybrid-logical-clock reading: order one station's events by (`ms`, `counter`)."""

    ms: int
    counter: int


class Envelope(TypedDict):
    """One event as stored in the outbox and published on `{prefix}/evt` (see `cloud_sync.chain` for `hash`)."""

    seq: int
    event_id: str
    stream_epoch: str
    type: str
    order_id: str | None
    actor: ActorDict
    at: ClockDict
    wall_raw: int
    boot_id: str
    clock_synced: bool
    data: dict[str, Any]
    prev_hash: str
    hash: str
    mapped: NotRequired[dict[str, Any]]  # only on the wire, with an outbound mapping; not hashed


# -- orders ---------------------------------------------------------------------------------------------------


class OrderReceived(TypedDict):
    """`order.received`: a new order taken in (from the hub, a file import or the demo)."""

    hub_version: int
    lines: int  # how many lines


class OrderUpdated(TypedDict):
    """`order.updated`: a newer version of an order replaced the stored one."""

    hub_version: int
    version: int
    lines_changed: bool


class OrderRevised(TypedDict):
    """`order.revised`: the hub changed an order that was being packed, packed or labelled, and what the bench
    must do about it (docs/orders.md, "An order that changes on the bench")."""

    hub_version: int
    version: int
    from_status: str
    status: str  # `packing` again when a packed or labelled order's box or label changed
    bench: str | None
    label_voided: bool
    voided_waybill: str | None  # the waybill on the voided labels ("" when the order had none)
    added: list[dict[str, Any]]  # {line_no, sku, name, qty}
    removed: list[dict[str, Any]]  # {line_no, sku, name, verified}
    qty_changed: list[dict[str, Any]]  # {line_no, sku, from, to}
    address_changed: bool
    carrier_changed: bool
    waybill_changed: bool
    put_back: list[dict[str, Any]]  # {line_no, sku, name, qty}: units to scan out of the box


class OrderRefused(TypedDict, total=False):
    """`order.refused`: an order document was not taken in, and why."""

    reason: Required[str]
    errors: list[str]  # readable `field.path: message` lines (at most 20)
    hub_version: int
    status: str


class CancelRecorded(TypedDict):
    """`order.cancel_recorded`: a cancellation kept for an order that has not arrived yet."""

    reason_text: str


StatusChanged = TypedDict(
    "StatusChanged",
    {
        "from": Required[str],
        "to": Required[str],
        "action": Required[str],
        "version": Required[int],
        "auto": bool,
        "batch_id": str,
        "bench": str,
        "cancelled_before_arrival": bool,
        "carrier": str,
        "code": str,
        "interception": bool,
        "kind": str,
        "measured_weight_g": int | None,
        "photo_ref": str | None,
        "photo_waived_by": str,
        "reason_text": str,
        "source": str,
        "symbology": str | None,
        "verified": dict[str, int],
        "waiver_reason": str,
        "waybill_no": str,
    },
    total=False,
)
"""`order.status_changed`: one lifecycle transition, with what the bench measured or was told."""


class DisputeReason(TypedDict):
    """`order.dispute_flagged` / `order.dispute_cleared`."""

    reason: str


class ActionRefused(TypedDict, total=False):
    """`action.refused`: a supervisor, API or hub action the lifecycle or a guard refused."""

    action: Required[str]
    reason: Required[str]
    expected_version: int
    interception: bool
    job_id: str
    order_ref: str
    reason_text: str
    role: str
    state: str
    status: str
    version: int


# -- the bench ------------------------------------------------------------------------------------------------


class ItemVerified(TypedDict, total=False):
    """`item.verified`: a unit (or `qty` units) of a line scanned into the box."""

    line_no: Required[int]
    sku: str
    code: str
    kind: str
    symbology: str | None
    qty: int
    verified: int
    of: int
    n: int
    gift: bool
    serial: str | None
    batch: str | None
    expiry: str | None


class ItemsReturned(TypedDict):
    """`item.returned`: verified units taken out of the box again (line number → units)."""

    lines: dict[str, int]
    units: int


class ItemPutBack(TypedDict):
    """`item.put_back`: a unit the revised order no longer wants, scanned out of the box at the bench."""

    code: str
    kind: str
    symbology: str | None
    line_no: int
    sku: str
    qty: int
    returned: int
    of: int
    unit: str | None


class ScanRejected(TypedDict, total=False):
    """`scan.rejected`: a scan the bench refused, with the reason the packer was shown."""

    code: Required[str]
    kind: Required[str]
    reason: Required[str]
    symbology: Required[str | None]
    action: str
    auto: bool
    badge: str
    batch_id: str
    bench: str
    carrier: str
    expected: list[str]
    line_no: int
    measured_weight_g: int | None
    open_order: str
    order_ref: str  # the order number scanned (`unknown_order`), when no order has it
    reason_text: str  # the reason the packer gave with a refused CMD:HOLD / CMD:ABORT
    photo_ref: str | None
    qty: int
    sku: str
    status: str
    tried: int
    unit: str
    verified: int
    waybill_no: str
    waybill_order: str


class OperatorBadge(TypedDict):
    """`operator.logged_in` / `operator.added`."""

    badge: str
    name: str
    role: str


class OperatorLoggedOut(TypedDict, total=False):
    """`operator.logged_out`: by badge, by command or by the idle lock (`idle_s`)."""

    badge: Required[str]
    reason: Required[str]
    idle_s: int


class QtyArmed(TypedDict):
    """`bench.qty_armed`: the next item scan counts `qty` units."""

    qty: int


class AuthorisationRequested(TypedDict):
    """`bench.reopen_requested`: a command waits for a supervisor badge (`authorise` names the command)."""

    authorise: str
    reason: str | None


class BatchOpened(TypedDict):
    """`batch.opened`: a carrier batch at the dock."""

    batch_id: str
    carrier: str


class BatchClosed(TypedDict):
    """`batch.closed`, with how many orders it holds."""

    batch_id: str
    orders: int


# -- evidence -------------------------------------------------------------------------------------------------


class ClipReady(TypedDict):
    """`clip.ready`: an order's packing clip was assembled."""

    path: str
    sha256: str
    bytes: int
    duration_s: float
    start_ms: int
    end_ms: int


# -- alerts ---------------------------------------------------------------------------------------------------


class AlertRaised(TypedDict, total=False):
    """`alert.raised`: `alert` on `subject` (a device, an order, a job...), with what explains it."""

    alert: Required[str]
    subject: str | None
    ahead_min: int
    detail: str
    device: str
    job_id: str
    limit: int
    mean_wait_min: float
    moved_to: str
    pending: int
    printer: str
    reason: str
    reasons: list[str]
    roles: list[str]
    s_waiting: int
    since_min: int
    status: str


class AlertCleared(TypedDict, total=False):
    """`alert.cleared`."""

    alert: Required[str]
    subject: Required[str]
    device: str
    printer: str
    settled_by: str


# -- labels ---------------------------------------------------------------------------------------------------


class LabelQueued(TypedDict, total=False):
    """`label.queued`: a print job waits for the printer (again, with `requeued`)."""

    job_id: Required[str]
    kind: Required[str]
    printer: Required[str]
    attempts: int
    odometer_before: int
    reason: str
    requeued: bool


class LabelSending(TypedDict):
    """`label.sending`: the job goes to the printer now."""

    job_id: str
    kind: str
    printer: str
    attempt: int
    odometer_before: int | None


class LabelPrinted(TypedDict):
    """`label.printed`: the printer's counter says the label came out."""

    job_id: str
    kind: str
    printer: str
    attempts: int
    odometer_before: int
    odometer_after: int | None
    reason: str | None


class LabelFailed(TypedDict):
    """`label.failed`: the job did not print (`retry`: it will be tried again)."""

    job_id: str
    kind: str
    printer: str
    attempts: int
    detail: str
    reason: str
    retry: bool
    sent: bool


class LabelUnknown(TypedDict):
    """`label.unknown`: whether the label printed cannot be told; a person must look."""

    job_id: str
    kind: str
    printer: str
    attempts: int
    detail: str
    reason: str
    odometer_before: int | None


class ReprintRequested(TypedDict):
    """`label.reprint_requested`."""

    reason: str
    rerender: bool
    previous_job_id: str | None
    previous_state: str | None


# -- priority and the PDA queue -------------------------------------------------------------------------------


PriorityChanged = TypedDict("PriorityChanged", {"from": str | None, "to": str, "rule": str})
"""`priority.changed`: an order's level, and the rule (or person) that set it."""


class EscalationRefused(TypedDict):
    """`priority.escalation_refused`: a rule wanted a level the breaker does not allow now."""

    rule: str
    wanted: str
    given: str | None


class BreakerTripped(TypedDict):
    """`priority.breaker_tripped`: too many S orders wait; escalation to S pauses until `until_ms`."""

    s_waiting: int
    until_ms: int


class NoData(TypedDict):
    """An event whose type says everything (`priority.breaker_lifted`, `user.logged_in`)."""


class QueueClaimed(TypedDict):
    """`queue.claimed`: a PDA holds the order until `expires_at_ms`."""

    pda: str
    expires_at_ms: int


class QueueReleased(TypedDict):
    """`queue.released`."""

    pda: str


# -- people, tokens and configuration -------------------------------------------------------------------------


class TokenCreated(TypedDict):
    """`token.created`: an API token for a bench screen, a PDA or the hub."""

    token_id: str
    name: str
    role: str
    bench: str | None


class TokenRevoked(TypedDict):
    """`token.revoked`."""

    token_id: str


class UserEvent(TypedDict):
    """`user.added` / `user.password_changed` / `user.enabled`: a supervisor account."""

    username: str


class UserAccessEnded(TypedDict):
    """`user.disabled` / `user.deleted`: a supervisor account that can no longer log in, and how many of its
    unexpired sessions were ended with it."""

    username: str
    sessions_ended: int


class ConfigChanged(TypedDict):
    """`config.changed`: the hub set one configuration key."""

    key: str
    value: Any


EVENT_DATA: Mapping[str, type] = {
    "order.received": OrderReceived,
    "order.updated": OrderUpdated,
    "order.refused": OrderRefused,
    "order.revised": OrderRevised,
    "order.cancel_recorded": CancelRecorded,
    "order.status_changed": StatusChanged,
    "order.dispute_flagged": DisputeReason,
    "order.dispute_cleared": DisputeReason,
    "action.refused": ActionRefused,
    "item.verified": ItemVerified,
    "item.returned": ItemsReturned,
    "item.put_back": ItemPutBack,
    "scan.rejected": ScanRejected,
    "operator.logged_in": OperatorBadge,
    "operator.added": OperatorBadge,
    "operator.logged_out": OperatorLoggedOut,
    "bench.qty_armed": QtyArmed,
    "bench.reopen_requested": AuthorisationRequested,
    "batch.opened": BatchOpened,
    "batch.closed": BatchClosed,
    "clip.ready": ClipReady,
    "alert.raised": AlertRaised,
    "alert.cleared": AlertCleared,
    "label.queued": LabelQueued,
    "label.sending": LabelSending,
    "label.printed": LabelPrinted,
    "label.failed": LabelFailed,
    "label.unknown": LabelUnknown,
    "label.reprint_requested": ReprintRequested,
    "priority.changed": PriorityChanged,
    "priority.escalation_refused": EscalationRefused,
    "priority.breaker_tripped": BreakerTripped,
    "priority.breaker_lifted": NoData,
    "queue.claimed": QueueClaimed,
    "queue.released": QueueReleased,
    "token.created": TokenCreated,
    "token.revoked": TokenRevoked,
    "user.added": UserEvent,
    "user.password_changed": UserEvent,
    "user.disabled": UserAccessEnded,
    "user.enabled": UserEvent,
    "user.deleted": UserAccessEnded,
    "user.logged_in": NoData,
    "config.changed": ConfigChanged,
}


def _checker(shape: type) -> TypeAdapter[Any]:
    shape.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(shape)


_CHECKERS: dict[str, TypeAdapter[Any]] = {name: _checker(shape) for name, shape in EVENT_DATA.items()}


def data_problems(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """What is wrong with `data` for `event_type` (empty when it fits; an unlisted type is one problem).

    Strict: a missing required key, an unknown key or a value of the wrong JSON type is each named.
    """
    checker = _CHECKERS.get(event_type)
    if checker is None:
        return [f"{event_type}: not a listed event type (cloud_sync.events.EVENT_DATA)"]
    try:
        checker.validate_python(dict(data), strict=True)
    except ValidationError as err:
        return [f"{event_type}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
    return []
