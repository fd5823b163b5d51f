"""The print queue's state machine on a virtual printer: queued → sending → done / failed / unknown, each
change committed with its event, `sending` committed before the job goes out, automatic retries only for
jobs that never left the station, alerts raised once and cleared, and the settings schema."""

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from benchkit import Bench, FakeClock, make_bench
from printing_kit import (
    FAST_QUEUE,
    PACKER,
    SUPERVISOR,
    events_of,
    job_rows,
    make_worker,
    pack,
    pack_many,
    printed_per_order,
    received_per_job,
    sim_printer,
)
from pydantic import ValidationError

from drivers import printers
from drivers.printers import JobResult, Printer
from station.events import Actor
from station.orders.intake import intake_order
from station.printing import (
    JobKind,
    LabelEvent,
    PrintingSettings,
    PrintWorker,
    enqueue_label,
    label_printed,
    request_reprint,
    resolve_unknown,
)
from station.printing.jobs import count_labels
from station.store import Store

ORDER = "SO20260205-8821"
LABEL_EVENTS = [v for k, v in vars(LabelEvent).items() if k.isupper()]


@pytest.fixture
def packed(bench: Bench) -> Bench:
    pack(bench)
    return bench


def test_enqueue_writes_row_and_event_in_one_transaction(packed: Bench) -> None:
    request = enqueue_label(packed.store, ORDER, PACKER)
    assert request.ok
    [row] = job_rows(packed.store, ORDER)
    assert (row["state"], row["kind"], row["job_id"]) == ("queued", "label", request.job_id)
    [event] = events_of(packed.store, LabelEvent.QUEUED)
    assert event["seq"] == request.seq
    assert event["data"]["job_id"] == request.job_id
    assert not label_printed(packed.store, ORDER)
    # A second first label is a reprint in disguise: refused, and the refusal is recorded.
    again = enqueue_label(packed.store, ORDER, PACKER)
    assert again.refusal == "label_exists"
    assert events_of(packed.store, "action.refused")[-1]["data"]["reason"] == "label_exists"


def test_enqueue_refuses_an_order_that_is_not_packed(bench: Bench) -> None:
    assert enqueue_label(bench.store, ORDER, PACKER).refusal == "order_not_packed"
    assert enqueue_label(bench.store, "NOPE-1", PACKER).refusal == "unknown_order"
    with pytest.raises(ValueError, match="request_reprint"):
        enqueue_label(bench.store, ORDER, PACKER, kind=JobKind.REPRINT)
    assert job_rows(bench.store) == []


def test_queued_sending_done_with_events_in_order(packed: Bench) -> None:
    printer, engine = sim_printer()
    worker = make_worker(packed.store, printer, auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert row["state"] == "done"
    assert (row["attempts"], row["odometer_before"], row["odometer_after"]) == (1, 0, 1)
    assert row["zpl"].startswith("^XA")
    assert "SF1234567890123" in row["zpl"]
    types = [e["type"] for e in events_of(packed.store, *LABEL_EVENTS)]
    assert types == [LabelEvent.QUEUED, LabelEvent.SENDING, LabelEvent.PRINTED]
    assert printed_per_order(packed.store, engine) == {ORDER: 1}
    assert label_printed(packed.store, ORDER)


class CheckingPrinter:
    """Before the job goes out, looks at the database from another connection: `sending` must be committed."""

    def __init__(self, inner: Printer, db_path: Path) -> None:
        self.inner = inner
        self.db_path = db_path
        self.seen: list[tuple[str, int | None]] = []
        self.description = inner.description

    def status(self) -> Any:
        return self.inner.status()

    def odometer(self) -> int | None:
        return self.inner.odometer()

    def cancel_all(self) -> None:
        self.inner.cancel_all()

    def print_job(self, job_id: str, zpl: str) -> Any:
        other = sqlite3.connect(self.db_path)
        try:
            row = other.execute("SELECT state, odometer_before FROM print_jobs WHERE job_id = ?", [job_id]).fetchone()
        finally:
            other.close()
        self.seen.append(row)
        return self.inner.print_job(job_id, zpl)


def test_sending_is_committed_before_the_job_goes_out(packed: Bench, tmp_path: Path) -> None:
    inner, _ = sim_printer(odometer_start=41)
    checking = CheckingPrinter(inner, tmp_path / "station.db")
    worker = make_worker(packed.store, checking, auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.run_until_idle()
    assert checking.seen == [("sending", 41)]


def test_paper_out_before_the_job_keeps_it_queued_and_alerts_once(packed: Bench) -> None:
    printer, engine = sim_printer(paper_out=True)
    worker = make_worker(packed.store, printer, auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    for _ in range(3):
        worker.retry_now()
        worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert row["state"] == "queued"
    assert engine.jobs == []  # nothing was sent to a printer that said it was not ready
    [alert] = events_of(packed.store, "alert.raised")
    assert alert["data"]["alert"] == "device_down"
    assert alert["data"]["subject"] == "printer"
    assert "paper_out" in alert["data"]["reasons"]
    assert worker.health()["ok"] is False

    engine.set_fault("paper_out", False)
    worker.retry_now()
    worker.run_until_idle()
    assert job_rows(packed.store, ORDER)[0]["state"] == "done"
    [cleared] = events_of(packed.store, "alert.cleared")
    assert cleared["data"]["alert"] == "device_down"
    assert printed_per_order(packed.store, engine) == {ORDER: 1}
    assert worker.health()["ok"] is True


class PaperRunsOutJustBefore(CheckingPrinter):
    """The printer was ready when asked, and ran out of paper before the job arrived (a real race)."""

    def __init__(self, inner: Printer, engine: Any) -> None:
        super().__init__(inner, Path())
        self.engine = engine
        self.armed = True

    def print_job(self, job_id: str, zpl: str) -> Any:
        if self.armed:
            self.armed = False
            self.engine.set_fault("paper_out", True)
        return self.inner.print_job(job_id, zpl)


def test_a_failed_job_that_was_never_sent_is_retried_when_the_printer_is_ready(packed: Bench) -> None:
    inner, engine = sim_printer()
    worker = make_worker(packed.store, PaperRunsOutJustBefore(inner, engine), auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert (row["state"], row["retryable"], row["reason"]) == ("failed", 1, "not_ready")
    failed = events_of(packed.store, LabelEvent.FAILED)[-1]["data"]
    assert (failed["sent"], failed["retry"]) == (False, True)

    engine.set_fault("paper_out", False)
    worker.retry_now()
    worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert (row["state"], row["attempts"]) == ("done", 2)
    assert printed_per_order(packed.store, engine) == {ORDER: 1}


def test_a_job_that_was_sent_and_failed_is_not_resent(bench: Bench) -> None:
    ids = pack_many(bench, 2)
    printer, engine = sim_printer(drop_mid_job=1)
    worker = make_worker(bench.store, printer, auto_print=False)
    for order_id in ids:
        enqueue_label(bench.store, order_id, PACKER)
    for _ in range(3):
        worker.retry_now()
        worker.run_until_idle()
    first, second = (job_rows(bench.store, order_id)[0] for order_id in ids)
    assert (first["state"], first["reason"], first["retryable"]) == ("failed", "transfer_broken", 0)
    assert second["state"] == "done"
    assert received_per_job(engine)[first["job_id"]] == 1  # cut off once, never sent again on its own
    assert printed_per_order(bench.store, engine) == {ids[1]: 1}
    [alert] = [e for e in events_of(bench.store, "alert.raised") if e["data"]["alert"] == "label_failed"]
    assert (alert["order_id"], alert["data"]["subject"]) == (ids[0], first["job_id"])
    assert not label_printed(bench.store, ids[0])


class UnknownPrinter(CheckingPrinter):
    """Sends the job and cannot tell what became of it (the link broke and the counter cannot be read)."""

    def print_job(self, job_id: str, zpl: str) -> Any:
        before = self.inner.odometer()
        return JobResult(job_id, "unknown", "transfer_broken", before, None, sent=True, detail="counter unreadable")


def test_unknown_is_alerted_and_settled_only_by_a_person(packed: Bench) -> None:
    inner, engine = sim_printer()
    worker = make_worker(packed.store, UnknownPrinter(inner, Path()), auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    for _ in range(2):
        worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert row["state"] == "unknown", row
    assert engine.jobs == []
    [alert] = [e for e in events_of(packed.store, "alert.raised") if e["data"]["alert"] == "label_unknown"]
    assert alert["data"]["subject"] == row["job_id"]

    refused = resolve_unknown(packed.store, row["job_id"], PACKER, printed=True, reason="I saw it")
    assert refused.refusal == "needs_supervisor"
    assert resolve_unknown(packed.store, row["job_id"], SUPERVISOR, printed=True, reason=" ").refusal == (
        "reason_required"
    )
    assert not label_printed(packed.store, ORDER)

    settled = resolve_unknown(packed.store, row["job_id"], SUPERVISOR, printed=True, reason="label on the box")
    assert settled.ok
    assert label_printed(packed.store, ORDER)
    printed = events_of(packed.store, LabelEvent.PRINTED)[-1]
    assert printed["data"]["reason"] == "confirmed_by_person"
    assert printed["actor"]["id"] == "SV-001"
    cleared = [e for e in events_of(packed.store, "alert.cleared") if e["data"]["alert"] == "label_unknown"]
    assert len(cleared) == 1
    assert resolve_unknown(packed.store, row["job_id"], SUPERVISOR, printed=True, reason="x").refusal == (
        "job_not_unknown"
    )


def test_an_order_without_a_waybill_fails_with_an_alert(store: Store, clock: FakeClock) -> None:
    bench = make_bench(store, clock)
    hub = Actor(role="hub", id="hub-test")
    doc = {
        "order_id": "SO20260205-7777",
        "version": 1,
        "lines": [{"line_no": 1, "sku": "BAG", "name": "袋子", "barcodes": ["BAG-001"], "qty": 1}],
    }
    assert intake_order(store, doc, hub).ok
    for code in ("OP-001", "SO20260205-7777", "BAG-001"):
        assert bench.scan(code).accepted
    printer, engine = sim_printer()
    worker = make_worker(store, printer, auto_print=False)
    assert enqueue_label(store, "SO20260205-7777", PACKER).ok
    worker.run_until_idle()
    [row] = job_rows(store, "SO20260205-7777")
    assert (row["state"], row["reason"], row["retryable"]) == ("failed", "label_data", 0)
    assert "no waybill" in row["detail"]
    assert [e["data"]["alert"] for e in events_of(store, "alert.raised")] == ["label_failed"]
    assert engine.jobs == []


def test_idle_status_polls_raise_and_clear_device_down_once(bench: Bench) -> None:
    printer, engine = sim_printer()
    worker = make_worker(bench.store, printer, auto_print=False)
    worker.step()  # idle: asks the status, all fine
    engine.set_fault("head_open", True)
    for _ in range(4):
        worker.retry_now()
        worker.step()
    engine.set_fault("head_open", False)
    for _ in range(2):
        worker.retry_now()
        worker.step()
    raised = [e["data"]["alert"] for e in events_of(bench.store, "alert.raised")]
    cleared = [e["data"]["alert"] for e in events_of(bench.store, "alert.cleared")]
    assert (raised, cleared) == (["device_down"], ["device_down"])


def test_old_zpl_is_forgotten_and_a_reprint_renders_again(packed: Bench) -> None:
    printer, engine = sim_printer()
    worker = make_worker(packed.store, printer, auto_print=False, keep_zpl_days=1)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.run_until_idle()
    assert job_rows(packed.store, ORDER)[0]["zpl"] is not None
    packed.clock.ms += 2 * 86_400_000
    worker.step()  # idle pass: prunes
    assert job_rows(packed.store, ORDER)[0]["zpl"] is None
    assert request_reprint(packed.store, ORDER, SUPERVISOR, "label torn").ok
    worker.run_until_idle()
    assert [r["state"] for r in job_rows(packed.store, ORDER)] == ["done", "done"]
    assert printed_per_order(packed.store, engine) == {ORDER: 2}


def test_count_labels() -> None:
    assert count_labels("^XA^FDa^FS^XZ") == 1
    assert count_labels("^XA^PQ3^XZ^XA^XZ") == 4
    assert count_labels("garbage") == 1


def test_settings_refuse_unknown_keys_and_backwards_backoff() -> None:
    assert PrintingSettings().auto_print is True
    with pytest.raises(ValidationError, match="extra"):
        PrintingSettings(auto_prnt=False)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="retry_backoff_max_s"):
        PrintingSettings(retry_backoff_min_s=10, retry_backoff_max_s=1)
    with pytest.raises(ValidationError):
        PrintingSettings(cjk="vector")  # type: ignore[arg-type]
    for name, field in PrintingSettings.model_fields.items():
        assert field.description, name


class CrashesAfterSending(CheckingPrinter):
    """Hands the job to the printer, then the station's side fails before hearing the verdict."""

    def __init__(self, inner: Printer, *, counter: bool = True, pause: Any = None) -> None:
        super().__init__(inner, Path())
        self.counter = counter
        self.pause = pause  # an engine to pause as the job goes out: the label waits in its buffer
        self.crashes = 1

    def status(self) -> Any:
        status = self.inner.status()
        return status if self.counter else dataclasses.replace(status, odometer=None)

    def print_job(self, job_id: str, zpl: str) -> Any:
        if self.crashes:
            self.crashes -= 1
            if self.pause is not None:
                self.pause.set_fault("paused", True)
            self.inner.transport.send(zpl.replace("^XA", f"^XA^FXjob={job_id}^FS", 1).encode(), 1.0)
            raise RuntimeError("the station lost track of the job")
        return self.inner.print_job(job_id, zpl)


def test_a_job_left_in_the_printer_is_cancelled_before_it_is_sent_again(packed: Bench) -> None:
    inner, engine = sim_printer()
    worker = make_worker(packed.store, CrashesAfterSending(inner, pause=engine), auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.step()  # marks sending, sends ... and fails
    assert job_rows(packed.store, ORDER)[0]["state"] == "sending"
    assert [job.state for job in engine.jobs] == ["queued"]  # in the printer, not printed
    worker.run_until_idle()  # settles by the counter: cancels what the printer holds, queues it again
    engine.set_fault("paused", False)
    worker.retry_now()
    worker.run_until_idle()
    assert printed_per_order(packed.store, engine) == {ORDER: 1}
    [row] = job_rows(packed.store, ORDER)
    assert (row["state"], row["attempts"]) == ("done", 2)
    assert [e["data"].get("reason") for e in events_of(packed.store, LabelEvent.QUEUED)] == [
        None,
        "not_printed_before_restart",
    ]


def test_a_job_the_counter_cannot_judge_is_unknown_with_an_alert(packed: Bench) -> None:
    inner, engine = sim_printer()
    worker = make_worker(packed.store, CrashesAfterSending(inner, counter=False), auto_print=False)
    enqueue_label(packed.store, ORDER, PACKER)
    worker.run_until_idle()
    [row] = job_rows(packed.store, ORDER)
    assert (row["state"], row["reason"]) == ("unknown", "no_counter_before_send")
    assert [e["data"]["alert"] for e in events_of(packed.store, "alert.raised")] == ["label_unknown"]
    assert printed_per_order(packed.store, engine) == {ORDER: 1}  # it did print; only a person can know
    assert not label_printed(packed.store, ORDER)


def test_device_state_goes_to_the_stations_alert_monitor_when_wired(packed: Bench) -> None:
    printer, engine = sim_printer(paper_out=True)
    told: list[tuple[str, bool, str]] = []
    worker = PrintWorker(
        packed.store,
        PrintingSettings(**(FAST_QUEUE | {"auto_print": False})),
        printer,
        printers,
        device_state=lambda device, up, detail: told.append((device, up, detail)),
    )
    enqueue_label(packed.store, ORDER, PACKER)
    for _ in range(3):
        worker.retry_now()
        worker.run_until_idle()
    engine.set_fault("paper_out", False)
    worker.retry_now()
    worker.run_until_idle()
    assert told == [("printer", False, "paper_out"), ("printer", True, "")]
    assert events_of(packed.store, "alert.raised", "alert.cleared") == []  # the monitor writes them, not us
    assert printed_per_order(packed.store, engine) == {ORDER: 1}
