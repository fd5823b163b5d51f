"""Printer.print_job on the in-process virtual printer: what each outcome means, and that it never resends."""

import pytest
from printer_testkit import ReplayTransport, recorded

from drivers.printers import Printer, PrinterConfigError, PrinterOptions, open_printer
from drivers.printers.sim import SimTransport, VirtualPrinterEngine
from drivers.printers.status import CMD_HOST_STATUS, CMD_LABEL_COUNT

LABEL = "^XA^FO50,50^A0N,40,40^FDHello^FS^XZ"
FAST = {"print_timeout_s": 1.0, "settle_s": 0.05, "poll_interval_s": 0.02, "timeout_s": 0.5}


def sim(**options: object) -> tuple[Printer, VirtualPrinterEngine]:
    printer = open_printer("sim://bench1", **{**FAST, **options})
    assert isinstance(printer.transport, SimTransport)
    return printer, printer.transport.engine


def test_done_when_the_counter_moves() -> None:
    printer, engine = sim(odometer_start=500)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.sent) == ("done", None, True)
    assert (result.odometer_before, result.odometer_after, result.labels_printed) == (500, 501, 1)
    assert engine.printed_job_ids() == ["job-1"]


def test_job_id_travels_in_the_label() -> None:
    printer, engine = sim()
    printer.print_job("SO-1/retry 2", LABEL)
    assert engine.jobs[0].zpl.startswith(b"^XA^FXjob=SO-1/retry_2^FS^FO50,50")
    assert engine.jobs[0].job_id == "SO-1/retry_2"


def test_quantity_and_several_formats_are_counted() -> None:
    printer, engine = sim()
    result = printer.print_job("batch", "^XA^FDa^FS^PQ2^XZ^XA^FDb^FS^XZ")
    assert (result.state, result.labels_expected, result.labels_printed) == ("done", 3, 3)
    assert engine.odometer == 3


def test_not_ready_is_failed_and_not_sent() -> None:
    printer, engine = sim(paper_out=1)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.detail, result.sent) == ("failed", "not_ready", "paper_out", False)
    assert engine.jobs == []


def test_head_open_on_quiet_firmware_is_explained() -> None:
    printer, engine = sim(head_open=1, quiet_on_error=1)
    status = printer.status()
    assert (status.ready, status.reasons, status.host) == (False, ["head_open"], None)
    assert printer.print_job("job-1", LABEL).detail == "head_open"
    assert engine.jobs == []


def test_paper_running_out_mid_job_is_cancelled_so_it_cannot_print_later() -> None:
    printer, engine = sim(paper_left=0)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.sent) == ("failed", "printer_error", True)
    assert result.odometer_before == result.odometer_after == 0
    assert "paper_out" in result.detail
    engine.set_fault("paper_out", False)  # the packer loads a new roll
    assert engine.odometer == 0
    assert engine.jobs[0].state == "cancelled"
    # The station may now reprint on an explicit request: exactly one label comes out.
    assert printer.print_job("job-1-reprint", LABEL).state == "done"
    assert engine.printed_job_ids() == ["job-1-reprint"]


def test_without_cancelling_a_stuck_job_is_unknown_and_may_still_print() -> None:
    printer, engine = sim(paper_left=0, cancel_on_error=False)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason) == ("unknown", "printer_error")
    engine.set_fault("paper_out", False)
    assert engine.printed_job_ids() == ["job-1"]  # which is why "unknown" was the only honest answer


def test_a_job_that_never_prints_times_out_then_is_cancelled() -> None:
    printer, engine = sim(print_ms=60_000)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason) == ("failed", "timeout")
    assert engine.jobs[0].state == "cancelled"


def test_slow_printer_within_the_timeouts_is_done() -> None:
    printer, _ = sim(slow_ms=50, print_ms=100)
    assert printer.print_job("job-1", LABEL).state == "done"


def test_answers_slower_than_the_timeout_are_no_answer() -> None:
    printer, engine = sim(slow_ms=300, timeout_s=0.1)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.sent) == ("failed", "no_answer", False)
    assert engine.jobs == []


def test_cut_off_job_is_failed_after_cancel_when_the_counter_stays() -> None:
    printer, engine = sim(drop_mid_job=1)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.sent) == ("failed", "transfer_broken", True)
    assert engine.jobs[0].state == "partial"
    assert engine.odometer == 0


def test_link_reset_after_the_label_printed_is_done() -> None:
    printer, engine = sim(drop_after_print=1)
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason) == ("done", "printed_after_error")
    assert engine.printed_job_ids() == ["job-1"]


def test_busy_printer_is_waited_for_so_the_counter_measures_this_job() -> None:
    engine = VirtualPrinterEngine()
    engine.set_fault("print_ms", 150)
    other = engine.open_link()
    other.feed(b"^XA^FXjob=someone-else^FS^XZ")
    printer = Printer(SimTransport(engine), PrinterOptions(**FAST))  # type: ignore[arg-type]
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.labels_printed) == ("done", 1)
    assert engine.printed_job_ids() == ["someone-else", "job-1"]


def test_printer_that_stays_busy_is_not_sent_to() -> None:
    printer, engine = sim(print_ms=60_000)
    engine.open_link().feed(b"^XA^XZ")
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason, result.sent) == ("failed", "busy", False)
    assert len(engine.jobs) == 1


def test_no_label_counter_means_unverified_done_or_unknown() -> None:
    transport = ReplayTransport(
        {CMD_HOST_STATUS: recorded("gk420d_hs_short.bin"), CMD_LABEL_COUNT: recorded("gk420d_sgd_unknown.bin")}
    )
    printer = Printer(transport, PrinterOptions(**FAST))  # type: ignore[arg-type]
    result = printer.print_job("job-1", LABEL)
    assert (result.state, result.reason) == ("done", "unverified")
    assert len(transport.sent) == 1
    assert transport.queries.count(CMD_LABEL_COUNT) == 1  # a printer that said "?" is not asked again


def test_length_odometer_counts_any_movement() -> None:
    printer, _ = sim(odometer="length")
    result = printer.print_job("job-1", LABEL)
    assert result.state == "done"
    # Printed length in whole inches: one 1218-dot label at 203 dpi is 6 inches.
    assert result.labels_printed == 1218 // 203


def test_unreachable_printer_is_failed_and_not_sent() -> None:
    transport = ReplayTransport({})
    transport.unreachable = True
    result = Printer(transport, PrinterOptions(**FAST)).print_job("job-1", LABEL)  # type: ignore[arg-type]
    assert (result.state, result.reason, result.sent) == ("failed", "unreachable", False)


@pytest.mark.parametrize("zpl", ["", "^FO1,1^FDx^FS", "^XZ^XA"])
def test_a_job_must_be_whole_formats(zpl: str) -> None:
    printer, engine = sim()
    with pytest.raises(PrinterConfigError, match=r"complete \^XA"):
        printer.print_job("job-1", zpl)
    assert engine.jobs == []


def test_virtual_printer_knobs_over_sgd() -> None:
    printer, engine = sim()
    printer.transport.send(b'! U1 setvar "sim.paper_out" "1"\r\n', 1.0)
    assert engine.faults.paper_out
    assert printer.status().reasons == ["paper_out"]
