"""Whole-bench scenarios: what a packer scans and what the station lets through."""

from typing import Any

import pytest
from benchkit import (
    FEEDER_UNIT,
    FOOD,
    GIFT,
    HUB,
    Bench,
    FakeCamera,
    FakeClock,
    FakePrinter,
    FakeScale,
    make_bench,
    order_doc,
)

from station.events import Actor, EventType, verify_chain
from station.orders.actions import perform_action
from station.orders.intake import cancel_order, intake_order
from station.orders.lifecycle import Action
from station.orders.model import Feedback, Status
from station.scan import ScanRules
from station.store import Store
from station.workflow import BenchDevices

SUPERVISOR_API = Actor(role="supervisor", id="sv-web")


def _status(bench: Bench, order_id: str = "SO20260205-8821") -> Status:
    with bench.store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    return order.status


def _events(bench: Bench, type_: str) -> list[dict[str, Any]]:
    return [e for e in bench.store.events_from(1, 10_000) if e["type"] == type_]


def _pack_all(bench: Bench) -> Any:
    for code in (FEEDER_UNIT, GIFT, FOOD):
        assert bench.scan(code).accepted, code
    return bench.scan(FOOD)


def test_happy_path_to_labeled(bench: Bench) -> None:
    bench.login_and_open()
    assert _status(bench) is Status.PACKING
    last = _pack_all(bench)
    assert last.accepted
    assert last.status is Status.PACKED  # auto-complete on the last line
    labeled = bench.scan("SF1234567890123")
    assert labeled.accepted, labeled
    assert labeled.status is Status.LABELED
    assert verify_chain(bench.store.events_from(1, 10_000), bench.store.stream_epoch).ok


def test_scan_before_login_is_refused(bench: Bench) -> None:
    out = bench.scan("SO20260205-8821")
    assert (out.outcome, out.reason, out.feedback) == ("refused", "not_logged_in", Feedback.ERROR)
    assert out.seq is not None
    assert _events(bench, EventType.SCAN_REJECTED)[-1]["data"]["reason"] == "not_logged_in"


def test_unknown_badge(bench: Bench) -> None:
    assert bench.scan("OP-999").reason == "unknown_badge"


def test_new_scan_rules_apply_to_codes_read_before(bench: Bench) -> None:
    """The hub's `config.set` of `[scan]` replaces the rules: a remembered reading must not outlive them."""
    assert bench.scan("OP-999").reason == "unknown_badge"
    bench.workflow.rules = ScanRules(badge_patterns=[r"^EMP-\d+$"])
    again = bench.scan("OP-999")
    assert again.kind != "badge"
    assert again.reason != "unknown_badge"


def test_wrong_item_is_refused_with_its_own_pattern(bench: Bench) -> None:
    bench.login_and_open()
    out = bench.scan("6920000000005")  # a valid EAN-13 that is not on the order
    assert (out.reason, out.feedback) == ("wrong_item", Feedback.WRONG_ITEM)
    assert bench.indicator.signals[-1][1] is Feedback.WRONG_ITEM
    assert _status(bench) is Status.PACKING


def test_over_quantity(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(GIFT).accepted
    out = bench.scan(GIFT)
    assert (out.reason, out.feedback) == ("over_quantity", Feedback.OVER_QUANTITY)


def test_same_serialised_unit_twice(bench: Bench) -> None:
    doc = order_doc(
        order_id="SO20260205-9001",
        waybill_no="SF1234567890999",
        lines=[
            {
                "line_no": 1,
                "sku": "FEEDER-PRO",
                "name": "喂食器",
                "barcodes": ["6901234567892"],
                "qty": 2,
                "serialized": True,
            }
        ],
    )
    assert intake_order(bench.store, doc, HUB).ok
    bench.login_and_open("SO20260205-9001")
    assert bench.scan(FEEDER_UNIT).accepted
    out = bench.scan(FEEDER_UNIT, device="scanner-2")  # another scanner: not a bounce
    assert out.reason == "same_unit_twice"
    assert bench.scan("]C1010690123456789221SN0002").status is Status.PACKED


def test_serialised_line_needs_the_serial(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan("6901234567892").reason == "serial_required"


def test_bounce_is_ignored_not_counted(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(FOOD).accepted
    bench.monotonic[0] -= 4.9  # the next read comes 100 ms after the previous one
    out = bench.workflow.handle_scan("B01", FOOD, "scanner-1")
    assert (out.outcome, out.reason, out.feedback) == ("ignored", "bounce", Feedback.NONE)
    with bench.store.reading() as repo:
        order = repo.order("SO20260205-8821")
    assert order is not None
    assert order.line(3) is not None
    assert order.line(3).verified == 1


def test_qty_multiplier(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan("CMD:QTY:2").accepted
    out = bench.scan(FOOD)
    assert out.accepted
    assert out.detail["verified"] == 2
    assert bench.scan("CMD:QTY:2").accepted
    assert bench.scan(GIFT).reason == "over_quantity"


def test_complete_with_gift_missing_is_refused(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(FEEDER_UNIT).accepted
    assert bench.scan("CMD:QTY:2").accepted
    assert bench.scan(FOOD).accepted
    out = bench.scan("CMD:COMPLETE")
    assert out.reason == "gift_missing"
    assert "BOWL-GIFT" in out.detail["missing"]
    assert _status(bench) is Status.PACKING


def test_manual_complete_when_auto_complete_is_off(store: Store, clock: FakeClock) -> None:
    b = make_bench(store, clock, auto_complete=False)
    b.login_and_open()
    assert b.scan("CMD:COMPLETE").reason == "lines_incomplete"
    assert _pack_all(b).status is Status.PACKING
    assert b.scan("CMD:COMPLETE").status is Status.PACKED


def test_weight_guard(store: Store, clock: FakeClock) -> None:
    scale = FakeScale(None)
    b = make_bench(store, clock, BenchDevices(scale=scale))
    b.login_and_open()
    last = _pack_all(b)
    assert last.accepted
    assert last.status is Status.PACKING
    assert last.detail["awaiting"] == "weight_missing"
    scale.weight_g = 2000  # 350 g light: a missing item?
    assert b.scan("CMD:COMPLETE").reason == "weight_out_of_tolerance"
    scale.weight_g = 2400
    done = b.scan("CMD:COMPLETE")
    assert done.status is Status.PACKED
    with store.reading() as repo:
        assert repo.order("SO20260205-8821").measured_weight_g == 2400  # type: ignore[union-attr]


def test_photo_guard(store: Store, clock: FakeClock) -> None:
    camera = FakeCamera(None)
    b = make_bench(store, clock, BenchDevices(camera=camera))
    b.login_and_open()
    assert _pack_all(b).detail["awaiting"] == "photo_missing"
    assert b.scan("CMD:COMPLETE").reason == "photo_missing"
    camera.ref = "clips/SO20260205-8821/photo-1.jpg"
    assert b.scan("CMD:COMPLETE").status is Status.PACKED


def test_photo_override_needs_a_supervisor_badge_and_is_recorded(store: Store, clock: FakeClock) -> None:
    camera = FakeCamera(None)  # the camera is dead: no photo can be taken
    b = make_bench(store, clock, BenchDevices(camera=camera))
    b.login_and_open()
    _pack_all(b)
    armed = b.scan("CMD:OVERRIDE:镜头故障")
    assert (armed.message_key, armed.feedback) == ("override_requested", Feedback.NEEDS_SUPERVISOR)
    assert _status(b) is Status.PACKING
    assert b.scan("OP-002").message_key == "logged_in"  # a packer's badge does not authorise it
    assert _status(b) is Status.PACKING
    b.scan("CMD:OVERRIDE:镜头故障")
    done = b.scan("SV-001")
    assert done.status is Status.PACKED
    change = _events(b, EventType.STATUS_CHANGED)[-1]
    assert change["actor"] == {**change["actor"], "role": "supervisor", "id": "SV-001"}
    assert change["data"]["photo_waived_by"] == "SV-001"
    assert change["data"]["waiver_reason"] == "镜头故障"
    assert change["data"]["photo_ref"] is None


def test_photo_override_by_a_supervisor_at_the_bench_and_its_limits(store: Store, clock: FakeClock) -> None:
    b = make_bench(store, clock, BenchDevices(camera=FakeCamera(None)))
    b.scan("SV-001")
    b.scan("SO20260205-8821")
    assert b.scan("CMD:OVERRIDE").reason == "lines_incomplete"  # a waiver never replaces verifying the items
    _pack_all(b)
    done = b.scan("CMD:OVERRIDE")
    assert done.status is Status.PACKED
    assert _events(b, EventType.STATUS_CHANGED)[-1]["data"]["photo_waived_by"] == "SV-001"
    assert b.scan("CMD:OVERRIDE").reason == "nothing_to_override"


def test_photo_override_keeps_the_photo_when_the_camera_works(store: Store, clock: FakeClock) -> None:
    b = make_bench(store, clock, BenchDevices(camera=FakeCamera("photo-7.jpg")))
    b.login_and_open()
    _pack_all(b)  # auto-complete already packed it with its photo
    assert _status(b) is Status.PACKED
    change = _events(b, EventType.STATUS_CHANGED)[-1]
    assert change["data"]["photo_ref"] == "photo-7.jpg"
    assert "photo_waived_by" not in change["data"]


def test_label_needs_printer_confirmation(store: Store, clock: FakeClock) -> None:
    printer = FakePrinter()
    b = make_bench(store, clock, BenchDevices(printer=printer))
    b.login_and_open()
    _pack_all(b)
    assert b.scan("SF1234567890123").reason == "label_not_printed"
    printer.done.add("SO20260205-8821")
    assert b.scan("SF1234567890123").status is Status.LABELED


def test_swapped_label_is_refused_loudly(bench: Bench) -> None:
    other = order_doc(order_id="SO20260205-8822", waybill_no="SF1234567890124")
    assert intake_order(bench.store, other, HUB).ok
    bench.login_and_open()
    _pack_all(bench)
    out = bench.scan("SF1234567890124")  # the label of the other order
    assert (out.reason, out.feedback) == ("waybill_mismatch", Feedback.BLOCKED)
    assert out.detail["waybill_order"] == "SO20260205-8822"
    assert _status(bench) is Status.PACKED


def test_next_order_waits_for_the_label_scan(bench: Bench) -> None:
    assert intake_order(bench.store, order_doc(order_id="SO20260205-8822", waybill_no="SF1234567890124"), HUB).ok
    bench.login_and_open()
    _pack_all(bench)
    assert bench.scan("SO20260205-8822").reason == "label_pending"


def test_cancelled_on_the_bench_is_intercepted(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(FEEDER_UNIT).accepted
    result = cancel_order(bench.store, "SO20260205-8821", "customer cancelled", HUB)
    assert result.status is Status.CANCELLED
    assert ("B01", Feedback.BLOCKED) in [(s[0], s[1]) for s in bench.indicator.signals]
    change = _events(bench, EventType.STATUS_CHANGED)[-1]
    assert change["data"]["interception"] is True
    assert change["data"]["bench"] == "B01"
    # the bench screen says so at once, and the packer who keeps scanning is refused loudly
    notice = bench.workflow.last_answer("B01")
    assert notice is not None
    assert (notice[1].outcome, notice[1].reason, notice[1].feedback) == ("notice", "order_cancelled", Feedback.BLOCKED)
    out = bench.scan(GIFT)
    assert (out.reason, out.feedback) == ("order_cancelled", Feedback.BLOCKED)
    again = bench.scan("SO20260205-8821")
    assert (again.reason, again.feedback) == ("order_cancelled", Feedback.BLOCKED)


def test_cancellation_before_the_order_wins(store: Store) -> None:
    cancel_order(store, "SO20260205-7777", "fraud", HUB)
    result = intake_order(store, order_doc(order_id="SO20260205-7777"), HUB)
    assert result.status is Status.CANCELLED
    assert result.reason == "cancelled_before_arrival"


def test_on_hold_blocks_and_release_returns(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan("CMD:HOLD:damaged box").status is Status.ON_HOLD
    blocked = bench.scan("SO20260205-8821")
    assert (blocked.reason, blocked.feedback) == ("order_on_hold", Feedback.BLOCKED)
    packer = Actor(role="packer", id="OP-001")
    assert perform_action(bench.store, "SO20260205-8821", Action.RELEASE, packer).refusal == "needs_supervisor"
    released = perform_action(bench.store, "SO20260205-8821", Action.RELEASE, SUPERVISOR_API)
    assert released.ok
    assert released.status is Status.PACKING
    assert bench.scan("SO20260205-8821").message_key == "order_resumed"


def test_open_at_other_bench(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.workflow.handle_scan("B02", "OP-002", "s2").accepted
    out = bench.workflow.handle_scan("B02", "SO20260205-8821", "s2")
    assert (out.reason, out.feedback) == ("open_at_other_bench", Feedback.BLOCKED)


def test_abort_returns_items(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(FEEDER_UNIT).accepted
    out = bench.scan("CMD:ABORT:wrong box size")
    assert out.status is Status.PENDING
    returned = _events(bench, EventType.ITEMS_RETURNED)[-1]
    assert returned["data"]["lines"] == {"1": 1}
    bench.login_and_open()
    assert bench.scan(FEEDER_UNIT).accepted  # the unit can be verified again after it went back


def test_reopen_needs_a_supervisor_badge(bench: Bench) -> None:
    bench.login_and_open()
    _pack_all(bench)
    out = bench.scan("CMD:REOPEN")
    assert (out.outcome, out.feedback) == ("accepted", Feedback.NEEDS_SUPERVISOR)
    assert _status(bench) is Status.PACKED
    done = bench.scan("SV-001")
    assert done.status is Status.PACKING
    change = _events(bench, EventType.STATUS_CHANGED)[-1]
    assert change["actor"]["role"] == "supervisor"
    assert change["actor"]["id"] == "SV-001"


def test_reopen_authorisation_expires(bench: Bench) -> None:
    bench.login_and_open()
    _pack_all(bench)
    bench.scan("CMD:REOPEN")
    bench.clock.ms += 61_000
    assert bench.scan("SV-001").message_key == "logged_in"  # just a login now
    assert _status(bench) is Status.PACKED


def test_dock_handover(bench: Bench) -> None:
    bench.login_and_open()
    _pack_all(bench)
    assert bench.scan("SF1234567890123").status is Status.LABELED
    assert bench.scan("CMD:BATCH:ZTO").accepted
    wrong = bench.scan("SF1234567890123")
    assert (wrong.reason, wrong.feedback) == ("carrier_mismatch", Feedback.BLOCKED)
    assert bench.scan("CMD:BATCH:CLOSE").accepted
    assert bench.scan("CMD:BATCH:SF").accepted
    assert bench.scan("SF1234567890123").status is Status.HANDED_OVER
    closed = bench.scan("CMD:BATCH:CLOSE")
    assert closed.detail["orders"] == 1


def test_unlabeled_order_at_the_dock_is_refused(bench: Bench) -> None:
    bench.login_and_open()
    _pack_all(bench)
    assert bench.scan("CMD:BATCH:SF").accepted
    out = bench.scan("SF1234567890123")
    assert (out.reason, out.feedback) == ("order_not_labeled", Feedback.BLOCKED)


def test_idle_lock_logs_out(bench: Bench) -> None:
    bench.login_and_open()
    bench.clock.ms += 901_000
    out = bench.scan(FOOD)
    assert out.reason == "not_logged_in"
    logout = _events(bench, EventType.OPERATOR_LOGGED_OUT)[-1]
    assert logout["data"]["reason"] == "idle_timeout"


def test_idle_lock_by_tick(bench: Bench) -> None:
    bench.login_and_open()
    bench.clock.ms += 901_000
    bench.workflow.tick()
    assert _events(bench, EventType.OPERATOR_LOGGED_OUT)[-1]["data"]["reason"] == "idle_timeout"


def test_logout_command(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan("CMD:LOGOUT").accepted
    assert bench.scan(FOOD).reason == "not_logged_in"


@pytest.mark.parametrize(
    "junk",
    [
        b"\xff\xfe\xfd",
        b"\x00\x01\x02ABC",
        b"A" * 10_000,
        "'; DROP TABLE orders; --",
        "",
        "\x1b[31mred",
        "]C1" + "01069012345678921ABC10",
    ],
)
def test_junk_ends_as_a_recorded_refusal(bench: Bench, junk: bytes | str) -> None:
    bench.login_and_open()
    out = bench.scan(junk)
    assert out.outcome == "refused"
    assert out.reason
    assert out.seq is not None
    rejected = _events(bench, EventType.SCAN_REJECTED)[-1]
    assert rejected["seq"] == out.seq
    assert len(rejected["data"]["code"]) <= 200
    with bench.store.reading() as repo:
        assert repo.order("SO20260205-8821") is not None  # the table is still there


def test_version_conflict_loses_nothing(bench: Bench) -> None:
    with bench.store.reading() as repo:
        version = repo.order("SO20260205-8821").version  # type: ignore[union-attr]
    stale = perform_action(
        bench.store, "SO20260205-8821", Action.HOLD, SUPERVISOR_API, reason="check", expected_version=version + 5
    )
    assert stale.refusal == "version_conflict"
    ok = perform_action(
        bench.store, "SO20260205-8821", Action.HOLD, SUPERVISOR_API, reason="check", expected_version=version
    )
    assert ok.ok
    assert ok.version == version + 1
