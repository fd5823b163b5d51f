"""The fault matrix on the virtual printer over real TCP: every fault, three jobs, and a caller that follows
the rules (never resend blindly; a failed job may be sent again; an unknown one is looked at first).

Whatever the fault, at the end every job's label came out exactly once: zero duplicates, zero lost jobs.
And each first answer is true to the printer: "done" means the printer printed it, "failed" means it did
not and will not, "unknown" is given only when the counter could not tell.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from drivers.printers import JobResult, Printer, PrinterOptions, PrinterTransferError
from drivers.printers.sim import VirtualPrinterEngine
from drivers.printers.tcp import TcpTransport
from drivers.printers.virtual import VirtualPrinterServer

JOBS = ("J1", "J2", "J3")
OPTIONS = PrinterOptions(timeout_s=0.5, print_timeout_s=1.0, poll_interval_s=0.02, settle_s=0.1)


def label(job: str) -> str:
    return f"^XA^FO50,50^A0N,40,40^FD{job}^FS^XZ"


class HangsAfterABreak:
    """A TCP link to a printer that stops answering once a job transfer breaks (it rebooted mid-job)."""

    def __init__(self, inner: TcpTransport, engine: VirtualPrinterEngine) -> None:
        self._inner = inner
        self._engine = engine
        self.description = inner.description

    def query(self, request: bytes, complete: Callable[[bytes], bool], timeout_s: float) -> bytes:
        return self._inner.query(request, complete, timeout_s)

    def send(self, payload: bytes, timeout_s: float) -> None:
        try:
            self._inner.send(payload, timeout_s)
        except PrinterTransferError:
            self._engine.set_fault("no_answer", True)
            raise

    def close(self) -> None:
        self._inner.close()


@dataclass
class Case:
    faults: dict[str, object]
    first: dict[str, tuple[str, str | None]]  # job -> (state, reason) of the first attempt
    hang_after_break: bool = False
    clear: dict[str, object] = field(default_factory=dict)


CASES = {
    "healthy": Case({}, {"J1": ("done", None), "J2": ("done", None), "J3": ("done", None)}),
    "paper_out": Case(
        {"paper_out": True},
        dict.fromkeys(JOBS, ("failed", "not_ready")),
        clear={"paper_out": False},
    ),
    "paper_runs_out_mid_job": Case(
        {"paper_left": 1},
        {"J1": ("done", None), "J2": ("failed", "printer_error"), "J3": ("failed", "not_ready")},
        clear={"paper_out": False},
    ),
    "head_open": Case(
        {"head_open": True, "quiet_on_error": True},
        dict.fromkeys(JOBS, ("failed", "not_ready")),
        clear={"head_open": False},
    ),
    "no_answer": Case(
        {"no_answer": True},
        dict.fromkeys(JOBS, ("failed", "no_answer")),
        clear={"no_answer": False},
    ),
    "slow": Case({"slow_ms": 120}, dict.fromkeys(JOBS, ("done", None))),
    "disconnect_mid_job": Case(
        {"drop_mid_job": 1},
        {"J1": ("failed", "transfer_broken"), "J2": ("done", None), "J3": ("done", None)},
    ),
    "disconnect_after_print": Case(
        {"drop_after_print": 1},
        {"J1": ("done", "printed_after_error"), "J2": ("done", None), "J3": ("done", None)},
    ),
    "disconnect_then_silence": Case(
        {"drop_mid_job": 1},
        {"J1": ("unknown", "transfer_broken"), "J2": ("failed", "no_answer"), "J3": ("failed", "no_answer")},
        hang_after_break=True,
        clear={"no_answer": False},
    ),
}


@pytest.fixture
def server() -> Iterator[VirtualPrinterServer]:
    with VirtualPrinterServer(VirtualPrinterEngine(render_png=False), port=0) as running:
        yield running


def printer_for(server: VirtualPrinterServer, case: Case) -> Printer:
    transport = TcpTransport("127.0.0.1", server.port, connect_timeout_s=1.0, eof_timeout_s=0.5)
    if case.hang_after_break:
        return Printer(HangsAfterABreak(transport, server.engine), OPTIONS)  # type: ignore[arg-type]
    return Printer(transport, OPTIONS)


@pytest.mark.parametrize("name", list(CASES))
def test_fault_matrix(name: str, server: VirtualPrinterServer) -> None:
    case = CASES[name]
    engine = server.engine
    for fault, value in case.faults.items():
        engine.set_fault(fault, value)  # type: ignore[arg-type]
    printer = printer_for(server, case)

    first: dict[str, JobResult] = {}
    for job in JOBS:
        result = printer.print_job(job, label(job))
        first[job] = result
        printed = engine.printed_job_ids()
        # Each answer is true to the printer at the moment it is given.
        if result.state == "done":
            assert printed.count(job) == 1, (job, result)
            assert result.labels_printed == 1
        elif result.state == "failed":
            assert job not in printed, (job, result)
            assert result.labels_printed in (0, None)
    assert {job: (r.state, r.reason) for job, r in first.items()} == case.first

    # The fault clears (paper loaded, head closed, printer back).
    for fault, value in case.clear.items():
        engine.set_fault(fault, value)  # type: ignore[arg-type]
    # A failed job stays unprinted after the fault clears: nothing was left waiting in the printer.
    assert not {job for job, r in first.items() if r.state == "failed"} & set(engine.printed_job_ids())

    for job, result in first.items():
        if result.state == "unknown":
            # An operator looks at the printer (here: the virtual printer's own record) before any reprint.
            if job in engine.printed_job_ids():
                continue
        elif result.state == "done":
            continue
        again = printer.print_job(job, label(job))
        assert again.state == "done", (job, again)

    printed = engine.printed_job_ids()
    assert sorted(printed) == sorted(JOBS), f"duplicates or losses: {printed}"
    assert engine.odometer == len(JOBS)


def test_never_a_second_send_within_one_call(server: VirtualPrinterServer) -> None:
    # Whatever goes wrong, one print_job call hands the job to the printer at most once.
    server.engine.set_fault("drop_mid_job", 1)
    printer = printer_for(server, Case({}, {}))
    printer.print_job("J1", label("J1"))
    assert [job.job_id for job in server.engine.jobs] == ["J1"]
