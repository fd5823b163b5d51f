"""Printing through the real bench workflow: the label prints by itself when the last item makes the order
packed, the `labeled` guard waits for the printer's confirmation, and auto-print survives a restart."""

from benchkit import FakeClock, make_bench
from printing_kit import (
    SUPERVISOR,
    add_order,
    events_of,
    job_rows,
    make_worker,
    pack,
    printed_per_order,
    sim_printer,
    wait_for,
)

from station.orders.actions import perform_action
from station.orders.lifecycle import Action
from station.orders.model import Feedback
from station.printing import LabelEvent, label_printed, reprint_in
from station.store import Store
from station.workflow import BenchDevices

ORDER = "SO20260205-8821"
WAYBILL = "SF1234567890123"


def status_of(store: Store, order_id: str = ORDER) -> str:
    with store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    return order.status.value


def test_the_label_prints_by_itself_when_the_order_becomes_packed(store: Store, clock: FakeClock) -> None:
    printer, engine = sim_printer()
    worker = make_worker(store, printer)
    bench = make_bench(store, clock, BenchDevices(printer=worker.confirmation))
    worker.start()
    try:
        pack(bench)
        wait_for(lambda: label_printed(store, ORDER))
    finally:
        assert worker.stop()
    [row] = job_rows(store, ORDER)
    assert (row["kind"], row["state"], row["requested_by"]) == ("label", "done", None)
    assert printed_per_order(store, engine) == {ORDER: 1}
    label = engine.jobs[0].zpl.decode()
    # What the label says, from the order: carrier, waybill, order id, masked phone, the Chinese address
    # (printer font), the gift and priority marks.
    assert "顺丰速运" in label
    assert WAYBILL in label
    assert ORDER in label
    assert "138****8000" in label
    assert "13800138000" not in label
    assert "^CI28" in label
    queued = events_of(store, LabelEvent.QUEUED)[0]
    packed = next(e for e in events_of(store, "order.status_changed") if e["data"]["to"] == "packed")
    assert queued["seq"] > packed["seq"]  # queued in its own transaction, after the packed commit


def test_label_scan_refused_until_the_printer_confirms(store: Store, clock: FakeClock) -> None:
    printer, engine = sim_printer(paused=True)
    worker = make_worker(store, printer)
    bench = make_bench(store, clock, BenchDevices(printer=worker.confirmation))
    pack(bench)
    worker.run_until_idle()  # queues the label; the paused printer takes nothing
    assert [r["state"] for r in job_rows(store, ORDER)] == ["queued"]

    refused = bench.scan(WAYBILL)
    assert (refused.outcome, refused.reason) == ("refused", "label_not_printed")
    assert refused.feedback is not Feedback.OK
    assert status_of(store) == "packed"

    engine.set_fault("paused", False)
    worker.retry_now()
    worker.run_until_idle()
    accepted = bench.scan(WAYBILL)
    assert accepted.accepted, accepted
    assert status_of(store) == "labeled"
    assert printed_per_order(store, engine) == {ORDER: 1}


def test_another_orders_label_is_refused_even_when_printed(store: Store, clock: FakeClock) -> None:
    printer, _ = sim_printer()
    worker = make_worker(store, printer)
    bench = make_bench(store, clock, BenchDevices(printer=worker.confirmation))
    other = add_order(store, 1)
    pack(bench, other, "B02")
    pack(bench)
    worker.run_until_idle()
    assert label_printed(store, other)
    assert label_printed(store, ORDER)
    swapped = bench.scan("SF9000000000001")
    assert (swapped.outcome, swapped.reason) == ("refused", "waybill_mismatch")
    assert status_of(store) == "packed"


def test_auto_print_catches_up_after_a_restart_but_not_before_it_was_on(store: Store, clock: FakeClock) -> None:
    bench = make_bench(store, clock)
    pack(bench)  # packed before printing was ever set up: not printed by surprise later
    printer, engine = sim_printer()
    first = make_worker(store, printer)
    first.run_until_idle()
    assert job_rows(store) == []

    other = add_order(store, 1)
    pack(bench, other, "B02")  # packed while the worker is not running (killed between the two commits)
    second = make_worker(store, printer)
    second.run_until_idle()
    assert [(r["order_id"], r["state"]) for r in job_rows(store)] == [(other, "done")]
    third = make_worker(store, printer)
    third.run_until_idle()  # nothing queued twice
    assert printed_per_order(store, engine) == {other: 1}


def test_reopen_and_pack_again_does_not_print_a_second_label(store: Store, clock: FakeClock) -> None:
    printer, engine = sim_printer()
    worker = make_worker(store, printer)
    bench = make_bench(store, clock, BenchDevices(printer=worker.confirmation))
    pack(bench)
    worker.run_until_idle()
    assert perform_action(store, ORDER, Action.REOPEN, SUPERVISOR, reason="recount").ok
    assert status_of(store) == "packing"
    assert bench.scan("CMD:COMPLETE").accepted
    assert status_of(store) == "packed"
    worker.run_until_idle()
    assert printed_per_order(store, engine) == {ORDER: 1}  # the label on the box is still the right one
    assert bench.scan(WAYBILL).accepted


def test_reprint_by_command_barcode_needs_a_supervisor_badge(store: Store, clock: FakeClock) -> None:
    printer, engine = sim_printer()
    worker = make_worker(store, printer)
    devices = BenchDevices(
        printer=worker.confirmation,
        reprint=lambda tx, order_id, actor, reason: reprint_in(tx, order_id, actor, reason).refusal,
    )
    bench = make_bench(store, clock, devices)
    worker.start()
    try:
        pack(bench)
        wait_for(lambda: label_printed(store, ORDER))
        armed = bench.scan("CMD:REPRINT:label torn")
        assert (armed.outcome, armed.feedback) == ("accepted", Feedback.NEEDS_SUPERVISOR)
        assert len(job_rows(store, ORDER)) == 1  # a packer alone cannot reprint
        done = bench.scan("SV-001")
        assert done.message_key == "reprint_queued"
        wait_for(lambda: printed_per_order(store, engine) == {ORDER: 2})
        again = bench.scan("CMD:REPRINT")
        assert again.feedback is Feedback.NEEDS_SUPERVISOR
        clock.ms += 61_000  # the supervisor comes too late: the badge is just a login
        assert bench.scan("SV-001").message_key == "logged_in"
    finally:
        assert worker.stop()
    rows = job_rows(store, ORDER)
    assert [r["kind"] for r in rows] == ["label", "reprint"]
    assert (rows[1]["requested_by"], rows[1]["requested_role"]) == ("SV-001", "supervisor")
    assert status_of(store) == "packed"


def test_reprint_without_a_printer_is_refused(store: Store, clock: FakeClock) -> None:
    bench = make_bench(store, clock)
    pack(bench)
    bench.scan("CMD:REPRINT")
    assert bench.scan("SV-001").reason == "no_printer"
