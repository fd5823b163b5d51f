"""The hub changes an order while it is on a bench: the bench is told, the box is reconciled, never overwritten.

docs/orders.md, "An order that changes on the bench".
"""

from typing import Any

from benchkit import FEEDER_UNIT, FOOD, GIFT, HUB, Bench, order_doc

from station.events import Actor, EventType
from station.orders.actions import perform_action
from station.orders.intake import intake_order
from station.orders.lifecycle import Action
from station.orders.model import Feedback, Status
from station.orders.revision import outstanding_put_backs
from station.printing.queue import label_printed, last_printed_shipping_job, queue_first_label

ORDER_ID = "SO20260205-8821"
WAYBILL = "SF1234567890123"
NEW_WAYBILL = "SF1234567890999"


class Hub:
    """Sends newer versions of the sample order."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.version = 3

    def send(self, **changes: Any) -> Any:
        self.version += 1
        doc = order_doc(version=self.version)
        lines = changes.pop("lines", None)
        if lines is not None:
            doc["lines"] = lines(doc["lines"])
        doc.update(changes)
        return intake_order(self.bench.store, doc, HUB)


def _order(bench: Bench) -> Any:
    with bench.store.reading() as repo:
        return repo.order(ORDER_ID)


def _notice(bench: Bench) -> Any:
    last = bench.workflow.last_answer("B01")
    assert last is not None
    return last[1]


def _pack(bench: Bench) -> None:
    bench.login_and_open()
    for code in (FEEDER_UNIT, GIFT, FOOD, FOOD):
        assert bench.scan(code).accepted, code
    assert _order(bench).status is Status.PACKED


def _print_label(bench: Bench) -> None:
    with bench.store.transaction() as tx:
        job = queue_first_label(tx, ORDER_ID, "P1", HUB)
        assert job is not None
        tx.repo.db.execute("UPDATE print_jobs SET state = 'done', zpl = '^XA^XZ' WHERE job_id = ?", [job.job_id])


def test_a_higher_quantity_while_packing_is_shown_and_must_be_scanned(bench: Bench) -> None:
    hub = Hub(bench)
    bench.login_and_open()
    assert bench.scan(FOOD).accepted

    def more_food(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[2]["qty"] = 3
        return lines

    result = hub.send(lines=more_food)
    assert (result.result, result.reason) == ("updated", "revised_on_bench")
    notice = _notice(bench)
    assert (notice.outcome, notice.feedback, notice.message_key) == ("notice", Feedback.ORDER_CHANGED, "order_changed")
    assert notice.detail["qty_changed"] == [{"line_no": 3, "sku": "FOOD-2KG", "from": 2, "to": 3}]
    assert ("B01", Feedback.ORDER_CHANGED) in [(s[0], s[1]) for s in bench.indicator.signals]
    for code in (FEEDER_UNIT, GIFT, FOOD):
        assert bench.scan(code).accepted
    assert bench.scan("CMD:COMPLETE").reason == "lines_incomplete"
    assert bench.scan(FOOD).status is Status.PACKED


def test_a_removed_line_must_be_put_back_before_the_order_is_packed(bench: Bench) -> None:
    hub = Hub(bench)
    bench.login_and_open()
    for code in (FEEDER_UNIT, FOOD, FOOD):
        assert bench.scan(code).accepted
    hub.send(lines=lambda lines: lines[:2])  # the cat food is no longer ordered
    notice = _notice(bench)
    assert notice.detail["removed"] == [{"line_no": 3, "sku": "FOOD-2KG", "name": "猫粮 2kg", "verified": 2}]
    assert notice.detail["put_back"] == [{"line_no": 3, "sku": "FOOD-2KG", "name": "猫粮 2kg", "qty": 2}]
    assert bench.scan(GIFT).detail.get("all_verified") is True  # the gift counts; the food still in the box
    assert _order(bench).status is Status.PACKING
    assert bench.scan("CMD:COMPLETE").reason == "put_back_pending"
    first = bench.scan(FOOD)
    assert (first.message_key, first.detail["put_back_left"]) == ("item_put_back", 1)
    last = bench.scan(FOOD)
    assert last.status is Status.PACKED  # the last put-back completes the order (auto_complete)
    with bench.store.reading() as repo:
        assert outstanding_put_backs(repo.db, ORDER_ID) == []
    put_backs = [e for e in bench.store.events_for_order(ORDER_ID) if e["type"] == EventType.ITEM_PUT_BACK]
    assert [e["data"]["returned"] for e in put_backs] == [1, 2]


def test_a_removed_serialised_unit_must_be_the_one_in_the_box(bench: Bench) -> None:
    hub = Hub(bench)
    bench.login_and_open()
    assert bench.scan(FEEDER_UNIT).accepted
    hub.send(lines=lambda lines: [lines[2]])  # only the cat food is left
    other_unit = FEEDER_UNIT.replace("SN0001", "SN0002")
    assert bench.scan(other_unit).reason == "unit_not_in_box"
    assert bench.scan(FEEDER_UNIT).message_key == "item_put_back"
    with bench.store.reading() as repo:
        assert not repo.unit_seen(ORDER_ID, "06901234567892/SN0001")  # out of the box: may go in another


def test_a_gift_added_while_packing_is_needed_before_packed(bench: Bench) -> None:
    hub = Hub(bench)
    bench.login_and_open()

    def with_a_second_gift(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        gift = {"line_no": 4, "sku": "TOY", "name": "赠品 玩具", "barcodes": ["6901234567816"], "qty": 1, "gift_for": 1}
        return [*lines, gift]

    hub.send(lines=with_a_second_gift)
    assert _notice(bench).detail["added"] == [{"line_no": 4, "sku": "TOY", "name": "赠品 玩具", "qty": 1}]
    for code in (FEEDER_UNIT, GIFT, FOOD, FOOD):
        assert bench.scan(code).status is Status.PACKING
    assert bench.scan("CMD:COMPLETE").reason == "gift_missing"
    assert bench.scan("6901234567816").status is Status.PACKED


def test_a_packed_order_whose_contents_change_goes_back_to_packing_and_its_label_is_voided(bench: Bench) -> None:
    hub = Hub(bench)
    _pack(bench)
    _print_label(bench)
    assert label_printed(bench.store, ORDER_ID)

    def fewer_food(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[2]["qty"] = 1
        return lines

    hub.send(lines=fewer_food)
    order = _order(bench)
    assert order.status is Status.PACKING
    notice = _notice(bench)
    assert (notice.message_key, notice.status, notice.detail["label_voided"]) == (
        "order_changed_repack",
        Status.PACKING,
        True,
    )
    assert not label_printed(bench.store, ORDER_ID)  # the label printed before no longer counts
    assert bench.scan(FOOD).status is Status.PACKED  # one bag out, and the order is packed again
    with bench.store.transaction() as tx:
        assert queue_first_label(tx, ORDER_ID, "P1", HUB) is not None  # auto-print makes a new label


def test_a_new_waybill_for_a_labelled_order_voids_the_old_label_at_the_bench_and_the_dock(bench: Bench) -> None:
    hub = Hub(bench)
    _pack(bench)
    assert bench.scan(WAYBILL).status is Status.LABELED
    hub.send(waybill_no=NEW_WAYBILL)
    notice = _notice(bench)
    assert notice.detail["waybill_changed"] is True
    assert _order(bench).status is Status.PACKING
    assert bench.scan("CMD:COMPLETE").status is Status.PACKED  # nothing in the box changed
    old = bench.scan(WAYBILL)
    assert (old.reason, old.feedback) == ("label_voided", Feedback.BLOCKED)
    assert bench.scan(NEW_WAYBILL).status is Status.LABELED
    assert bench.scan("CMD:BATCH:SF").accepted
    assert bench.scan(WAYBILL).reason == "label_voided"  # the old label cannot leave with the carrier
    assert bench.scan(NEW_WAYBILL).status is Status.HANDED_OVER


def test_a_new_address_for_a_labelled_order_needs_a_new_label(bench: Bench) -> None:
    hub = Hub(bench)
    _pack(bench)
    _print_label(bench)
    assert bench.scan(WAYBILL).status is Status.LABELED
    customer = {
        "name": "张三",
        "phone": "13800138000",
        "address": {"province": "浙江省", "city": "杭州市", "street": "新"},
    }
    hub.send(customer=customer)
    assert _notice(bench).detail["address_changed"] is True
    assert _order(bench).status is Status.PACKING
    assert not label_printed(bench.store, ORDER_ID)


def test_notes_alone_do_not_stop_the_bench(bench: Bench) -> None:
    hub = Hub(bench)
    bench.login_and_open()
    answers = bench.workflow.last_answer("B01")
    result = hub.send(notes="请轻放")
    assert (result.result, result.reason) == ("updated", None)
    assert bench.workflow.last_answer("B01") == answers


def test_a_handed_over_order_cannot_change_its_contents(bench: Bench) -> None:
    hub = Hub(bench)
    _pack(bench)
    assert bench.scan(WAYBILL).accepted
    assert bench.scan("CMD:BATCH:SF").accepted
    assert bench.scan(WAYBILL).status is Status.HANDED_OVER
    refused = hub.send(lines=lambda lines: lines[:2])
    assert (refused.result, refused.reason, refused.ok) == ("refused", "order_handed_over", False)
    assert _order(bench).lines[2].qty == 2
    assert hub.send(notes="客户来电").ok


def test_a_hold_from_the_api_shows_at_the_bench_and_stops_its_scans(bench: Bench) -> None:
    bench.login_and_open()
    held = perform_action(bench.store, ORDER_ID, Action.HOLD, Actor(role="supervisor", id="SV-001"), reason="查验")
    assert held.ok
    notice = _notice(bench)
    assert (notice.outcome, notice.reason, notice.feedback) == ("notice", "order_on_hold", Feedback.BLOCKED)
    assert bench.scan(FOOD).reason == "order_on_hold"
    released = perform_action(bench.store, ORDER_ID, Action.RELEASE, Actor(role="supervisor", id="SV-001"))
    assert released.ok
    assert bench.scan(FOOD).accepted  # back where it was, on the same bench


def test_a_reprint_after_a_change_never_repeats_the_voided_label(bench: Bench) -> None:
    hub = Hub(bench)
    _pack(bench)
    _print_label(bench)
    with bench.store.reading() as repo:
        assert last_printed_shipping_job(repo.db, ORDER_ID) is not None
    hub.send(waybill_no=NEW_WAYBILL)
    with bench.store.reading() as repo:
        assert last_printed_shipping_job(repo.db, ORDER_ID) is None  # a reprint must render the new version
