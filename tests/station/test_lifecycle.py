"""The lifecycle table: every allowed move and the reason for each refusal."""

import pytest

from station.orders.lifecycle import TRANSITIONS, Action, Evidence, Facts, decide
from station.orders.model import Order, OrderLine, Role, Status


def _order(status: Status, verified: bool = True, held_from: Status | None = None) -> Order:
    lines = [
        OrderLine(1, "A", "a", ("1",), 2, verified=2 if verified else 1),
        OrderLine(2, "G", "gift", ("2",), 1, gift_for=1, verified=1 if verified else 0),
    ]
    return Order("O1", 1, 1, status, lines, held_from=held_from)


PACKER = Facts(actor_role=Role.PACKER, reason="r")
SUPERVISOR = Facts(actor_role=Role.SUPERVISOR, reason="r")
HUB = Facts(actor_role=Role.HUB, reason="r")


@pytest.mark.parametrize(
    ("status", "action", "facts", "expected"),
    [
        (Status.PENDING, Action.OPEN, PACKER, Status.PACKING),
        (Status.PACKING, Action.COMPLETE, PACKER, Status.PACKED),
        (Status.PACKED, Action.LABEL, Facts(actor_role=Role.PACKER, waybill_matches=True), Status.LABELED),
        (
            Status.LABELED,
            Action.HAND_OVER,
            Facts(actor_role=Role.PACKER, batch_carrier_matches=True),
            Status.HANDED_OVER,
        ),
        (Status.PACKING, Action.ABORT, PACKER, Status.PENDING),
        (Status.PACKED, Action.REOPEN, SUPERVISOR, Status.PACKING),
        (Status.LABELED, Action.REOPEN, HUB, Status.PACKING),
        (Status.PACKED, Action.HOLD, PACKER, Status.ON_HOLD),
        (Status.PENDING, Action.CANCEL, HUB, Status.CANCELLED),
        (Status.LABELED, Action.CANCEL, HUB, Status.CANCELLED),
        (Status.PACKING, Action.CANCEL, SUPERVISOR, Status.CANCELLED),
        (Status.ON_HOLD, Action.CANCEL, SUPERVISOR, Status.CANCELLED),
        (Status.PENDING, Action.CANCEL, Facts(actor_role=Role.SYSTEM), Status.CANCELLED),
    ],
)
def test_allowed(status: Status, action: Action, facts: Facts, expected: Status) -> None:
    decision = decide(_order(status), action, facts)
    assert decision.allowed
    assert decision.target is expected


@pytest.mark.parametrize(
    ("order", "action", "facts", "reason"),
    [
        (_order(Status.CANCELLED), Action.OPEN, PACKER, "order_cancelled"),
        (_order(Status.ON_HOLD, held_from=Status.PENDING), Action.OPEN, PACKER, "order_on_hold"),
        (_order(Status.PENDING), Action.OPEN, Facts(actor_role=Role.PACKER, logged_in=False), "not_logged_in"),
        (
            _order(Status.PACKING),
            Action.OPEN,
            Facts(actor_role=Role.PACKER, open_at_other_bench=True),
            "open_at_other_bench",
        ),
        (_order(Status.PACKED), Action.OPEN, PACKER, "order_already_packed"),
        (_order(Status.PACKING, verified=False), Action.COMPLETE, PACKER, "lines_incomplete"),
        (
            _order(Status.PACKING),
            Action.COMPLETE,
            Facts(actor_role=Role.PACKER, weight=Evidence.MISSING),
            "weight_missing",
        ),
        (
            _order(Status.PACKING),
            Action.COMPLETE,
            Facts(actor_role=Role.PACKER, weight=Evidence.OUT_OF_RANGE),
            "weight_out_of_tolerance",
        ),
        (
            _order(Status.PACKING),
            Action.COMPLETE,
            Facts(actor_role=Role.PACKER, photo=Evidence.MISSING),
            "photo_missing",
        ),
        (
            _order(Status.PACKING),
            Action.COMPLETE,
            Facts(actor_role=Role.PACKER, photo=Evidence.WAIVED),
            "needs_supervisor",
        ),
        (_order(Status.PACKED), Action.LABEL, Facts(actor_role=Role.PACKER), "waybill_mismatch"),
        (
            _order(Status.PACKED),
            Action.LABEL,
            Facts(actor_role=Role.PACKER, waybill_matches=True, label_printed=Evidence.MISSING),
            "label_not_printed",
        ),
        (_order(Status.PACKING), Action.LABEL, PACKER, "order_not_packed"),
        (_order(Status.PACKED), Action.HAND_OVER, PACKER, "order_not_labeled"),
        (_order(Status.LABELED), Action.HAND_OVER, PACKER, "carrier_mismatch"),
        (_order(Status.PACKING), Action.ABORT, Facts(actor_role=Role.PACKER), "reason_required"),
        (_order(Status.PACKED), Action.REOPEN, PACKER, "needs_supervisor"),
        (_order(Status.HANDED_OVER), Action.HOLD, SUPERVISOR, "order_handed_over"),
        (_order(Status.HANDED_OVER), Action.CANCEL, HUB, "order_handed_over"),
        (_order(Status.PENDING), Action.CANCEL, PACKER, "hub_only"),
        (_order(Status.PACKING), Action.CANCEL, Facts(actor_role=Role.SUPERVISOR), "reason_required"),
        (_order(Status.PENDING), Action.CANCEL, Facts(actor_role=Role.SUPERVISOR, reason=" \u3000"), "reason_required"),
        (_order(Status.ON_HOLD, held_from=Status.PACKED), Action.RELEASE, PACKER, "needs_supervisor"),
        (_order(Status.ON_HOLD), Action.RELEASE, SUPERVISOR, "hold_origin_unknown"),
    ],
)
def test_refused(order: Order, action: Action, facts: Facts, reason: str) -> None:
    decision = decide(order, action, facts)
    assert (decision.allowed, decision.refusal) == (False, reason)


def test_gift_missing_is_its_own_reason() -> None:
    order = _order(Status.PACKING)
    order.lines[1].verified = 0
    assert decide(order, Action.COMPLETE, PACKER).refusal == "gift_missing"


def test_release_returns_to_the_held_status() -> None:
    for origin in (Status.PENDING, Status.PACKING, Status.PACKED, Status.LABELED):
        decision = decide(_order(Status.ON_HOLD, held_from=origin), Action.RELEASE, SUPERVISOR)
        assert decision.target is origin


def test_nothing_leaves_the_final_statuses_except_as_the_table_says() -> None:
    for action, transition in TRANSITIONS.items():
        assert Status.CANCELLED not in transition.sources, action
        if action is not Action.HAND_OVER:
            assert transition.target is not Status.HANDED_OVER
    assert all(Status.HANDED_OVER not in t.sources for t in TRANSITIONS.values())
