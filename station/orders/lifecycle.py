"""The order lifecycle as one table: which action moves which statuses where, and its guards.

`decide()` is pure: it looks at an order and the facts gathered for one action and returns either the target
status or the reason for refusing. Callers (bench workflow, supervisor actions, hub commands) gather the facts,
call `decide()` and record whatever it says, refusal included. The table is explained in docs/orders.md,
"Lifecycle".
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from station.orders.model import Order, Role, Status


class Action(StrEnum):
    """Everything that can move an order between statuses."""

    OPEN = "open"
    COMPLETE = "complete"
    LABEL = "label"
    HAND_OVER = "hand_over"
    ABORT = "abort"
    REOPEN = "reopen"
    HOLD = "hold"
    RELEASE = "release"
    CANCEL = "cancel"


class Evidence(StrEnum):
    """State of one piece of evidence a guard may ask for."""

    NOT_REQUIRED = "not_required"  # no such device configured at this bench
    PRESENT = "present"
    MISSING = "missing"  # the device is configured but did not deliver
    OUT_OF_RANGE = "out_of_range"  # delivered, but it contradicts the order (e.g. weight outside tolerance)
    WAIVED = "waived"  # the device did not deliver and a supervisor took responsibility (recorded in the event)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the guards of one action look at, gathered by the caller before deciding."""

    actor_role: Role
    reason: str | None = None
    logged_in: bool = True
    open_at_other_bench: bool = False
    weight: Evidence = Evidence.NOT_REQUIRED
    photo: Evidence = Evidence.NOT_REQUIRED
    label_printed: Evidence = Evidence.NOT_REQUIRED
    waybill_matches: bool = False
    batch_carrier_matches: bool = False
    put_back_pending: bool = False  # units the revised order no longer wants are still in the box


Guard = Callable[[Order, Facts], str | None]
"""A guard returns the refusal reason, or None when the transition may go ahead."""


def _logged_in(_: Order, facts: Facts) -> str | None:
    return None if facts.logged_in else "not_logged_in"


def _not_open_elsewhere(_: Order, facts: Facts) -> str | None:
    return "open_at_other_bench" if facts.open_at_other_bench else None


def _gifts_verified(order: Order, _: Facts) -> str | None:
    return "gift_missing" if order.missing_gifts else None


def _lines_verified(order: Order, _: Facts) -> str | None:
    main_lines_done = all(ln.verified >= ln.qty for ln in order.lines if not ln.is_gift)
    return None if main_lines_done else "lines_incomplete"


def _nothing_to_put_back(_: Order, facts: Facts) -> str | None:
    return "put_back_pending" if facts.put_back_pending else None


def _weight_ok(_: Order, facts: Facts) -> str | None:
    return {Evidence.MISSING: "weight_missing", Evidence.OUT_OF_RANGE: "weight_out_of_tolerance"}.get(facts.weight)


def _photo_stored(_: Order, facts: Facts) -> str | None:
    if facts.photo is Evidence.WAIVED:
        return _supervisor(_, facts)
    return "photo_missing" if facts.photo is not Evidence.PRESENT and facts.photo is not Evidence.NOT_REQUIRED else None


def _label_printed(_: Order, facts: Facts) -> str | None:
    return "label_not_printed" if facts.label_printed is Evidence.MISSING else None


def _waybill_matches(_: Order, facts: Facts) -> str | None:
    return None if facts.waybill_matches else "waybill_mismatch"


def _batch_carrier_matches(_: Order, facts: Facts) -> str | None:
    return None if facts.batch_carrier_matches else "carrier_mismatch"


def _reason_given(_: Order, facts: Facts) -> str | None:
    return None if facts.reason and facts.reason.strip() else "reason_required"


def _supervisor(_: Order, facts: Facts) -> str | None:
    return None if facts.actor_role in (Role.SUPERVISOR, Role.HUB) else "needs_supervisor"


def _release_authority(_: Order, facts: Facts) -> str | None:
    return None if facts.actor_role in (Role.SUPERVISOR, Role.HUB, Role.SYSTEM) else "needs_supervisor"


def _cancel_authority(order: Order, facts: Facts) -> str | None:
    # The hub owns the order and cancels it as it sees fit; a supervisor at the station may too, but must say
    # why (the reason goes to the hub with the event). A packer never cancels.
    if facts.actor_role in (Role.HUB, Role.SYSTEM):
        return None
    if facts.actor_role is Role.SUPERVISOR:
        return _reason_given(order, facts)
    return "hub_only"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the lifecycle table. `target=None` means "back to the status before the hold"."""

    action: Action
    sources: frozenset[Status]
    target: Status | None
    guards: tuple[Guard, ...] = ()


_ALL_BUT_FINAL = frozenset(Status) - {Status.HANDED_OVER, Status.CANCELLED}

TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        # Opening a packing order at its own bench resumes it; at another bench it is refused.
        Transition(
            Action.OPEN, frozenset({Status.PENDING, Status.PACKING}), Status.PACKING, (_logged_in, _not_open_elsewhere)
        ),
        Transition(
            Action.COMPLETE,
            frozenset({Status.PACKING}),
            Status.PACKED,
            (_nothing_to_put_back, _lines_verified, _gifts_verified, _weight_ok, _photo_stored),
        ),
        Transition(Action.LABEL, frozenset({Status.PACKED}), Status.LABELED, (_waybill_matches, _label_printed)),
        Transition(Action.HAND_OVER, frozenset({Status.LABELED}), Status.HANDED_OVER, (_batch_carrier_matches,)),
        Transition(Action.ABORT, frozenset({Status.PACKING}), Status.PENDING, (_reason_given,)),
        Transition(
            Action.REOPEN,
            frozenset({Status.PACKED, Status.LABELED}),
            Status.PACKING,
            (_supervisor, _reason_given),
        ),
        Transition(Action.HOLD, _ALL_BUT_FINAL - {Status.ON_HOLD}, Status.ON_HOLD, (_reason_given,)),
        Transition(Action.RELEASE, frozenset({Status.ON_HOLD}), None, (_release_authority,)),
        Transition(Action.CANCEL, _ALL_BUT_FINAL, Status.CANCELLED, (_cancel_authority,)),
    )
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of `decide()`: a target status, or a refusal reason."""

    target: Status | None
    refusal: str | None

    @property
    def allowed(self) -> bool:
        """True when the transition may be applied."""
        return self.refusal is None


def _status_refusal(status: Status, action: Action) -> str:
    """Why an action cannot start from this status, in words a packer's screen can show."""
    if status is Status.CANCELLED:
        return "order_cancelled"
    if status is Status.ON_HOLD:
        return "order_on_hold"
    if status is Status.HANDED_OVER:
        return "order_handed_over"
    if action is Action.OPEN:
        return "order_already_packed" if status in (Status.PACKED, Status.LABELED) else "order_not_pending"
    if action is Action.LABEL and status is Status.PACKING:
        return "order_not_packed"
    if action is Action.HAND_OVER:
        return "order_not_labeled"
    return "invalid_transition"


def decide(order: Order, action: Action, facts: Facts) -> Decision:
    """Apply the table: may `action` move `order` now? Guards run in table order; the first refusal wins."""
    transition = TRANSITIONS[action]
    if order.status not in transition.sources:
        return Decision(None, _status_refusal(order.status, action))
    for guard in transition.guards:
        refusal = guard(order, facts)
        if refusal is not None:
            return Decision(None, refusal)
    target = transition.target if transition.target is not None else order.held_from
    if target is None:  # a hold recorded without its origin cannot be released safely
        return Decision(None, "hold_origin_unknown")
    return Decision(target, None)
