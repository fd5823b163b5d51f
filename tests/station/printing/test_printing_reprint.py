"""Reprints: only a supervisor's (or the hub's) explicit request with a reason, recorded as events, and the
reprint is the very same label."""

from benchkit import Bench
from printing_kit import PACKER, SUPERVISOR, events_of, job_rows, make_worker, pack, printed_per_order, sim_printer

from station.events import Actor
from station.printing import LabelEvent, label_printed, reprint_in, request_reprint

ORDER = "SO20260205-8821"
HUB = Actor(role="hub", id="hub-test")


def without_job_mark(zpl: str) -> str:
    """The label without the `^FXjob=...^FS` comment each job carries."""
    head, _, rest = zpl.partition("^FXjob=")
    return head + rest.partition("^FS")[2]


def refusals(bench: Bench) -> list[tuple[str | None, str]]:
    return [(e["actor"]["role"], e["data"]["reason"]) for e in events_of(bench.store, "action.refused")]


def test_reprint_refused_for_a_packer_and_recorded(bench: Bench) -> None:
    pack(bench)
    result = request_reprint(bench.store, ORDER, PACKER, "smudged")
    assert result.refusal == "needs_supervisor"
    assert result.seq is not None
    assert refusals(bench) == [("packer", "needs_supervisor")]
    assert job_rows(bench.store) == []
    assert events_of(bench.store, LabelEvent.REPRINT_REQUESTED) == []


def test_reprint_needs_a_reason_and_a_packed_order(bench: Bench) -> None:
    assert request_reprint(bench.store, ORDER, SUPERVISOR, "no box yet").refusal == "order_not_packed"
    pack(bench)
    assert request_reprint(bench.store, ORDER, SUPERVISOR, "   ").refusal == "reason_required"
    assert request_reprint(bench.store, "SO20990101-0001", SUPERVISOR, "typo").refusal == "unknown_order"
    assert [reason for _, reason in refusals(bench)] == ["order_not_packed", "reason_required", "unknown_order"]
    assert job_rows(bench.store) == []


def test_reprint_by_a_supervisor_is_audited_and_identical(bench: Bench) -> None:
    printer, engine = sim_printer()
    worker = make_worker(bench.store, printer)
    pack(bench)
    worker.run_until_idle()
    assert bench.scan("SF1234567890123").accepted  # labeled: the label is on the box

    result = request_reprint(bench.store, ORDER, SUPERVISOR, "label torn by the tape gun")
    assert result.ok
    [requested] = events_of(bench.store, LabelEvent.REPRINT_REQUESTED)
    assert requested["actor"]["id"] == "SV-001"
    assert requested["actor"]["role"] == "supervisor"
    assert requested["data"]["reason"] == "label torn by the tape gun"
    first_job, reprint = job_rows(bench.store, ORDER)
    assert requested["data"]["previous_job_id"] == first_job["job_id"]
    assert (reprint["kind"], reprint["requested_by"], reprint["requested_role"]) == ("reprint", "SV-001", "supervisor")
    assert reprint["request_reason"] == "label torn by the tape gun"
    queued = events_of(bench.store, LabelEvent.QUEUED)[-1]
    assert queued["seq"] == requested["seq"] + 1  # the request and the job in one transaction

    # A second request while the first reprint is still waiting would make two labels: refused.
    assert request_reprint(bench.store, ORDER, HUB, "again").refusal == "label_in_progress"

    worker.run_until_idle()
    assert printed_per_order(bench.store, engine) == {ORDER: 2}
    first_zpl, second_zpl = (without_job_mark(job.zpl.decode()) for job in engine.jobs)
    assert first_zpl == second_zpl
    assert label_printed(bench.store, ORDER)

    assert request_reprint(bench.store, ORDER, HUB, "hub asked").ok  # the hub may ask too


def test_reprint_inside_a_transaction_the_caller_holds(bench: Bench) -> None:
    # The bench path: CMD:REPRINT then a supervisor badge, decided inside the scan's own transaction.
    pack(bench)
    badge = Actor(role="supervisor", id="SV-001", device="scanner-1", bench="B01")
    with bench.store.transaction() as tx:
        result = reprint_in(tx, ORDER, badge, "CMD:REPRINT at the bench")
        assert result.ok
    [job] = job_rows(bench.store, ORDER)
    assert (job["kind"], job["requested_by"], job["state"]) == ("reprint", "SV-001", "queued")
