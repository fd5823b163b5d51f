"""The fault matrix, station side: three packed orders, the virtual printer misbehaving, the queue doing its
part and a supervisor doing theirs. Whatever the fault, at the end every order has exactly one label from
the printer: zero duplicates, zero lost jobs. On the way, no job that reached the printer is ever sent again
by the station on its own, and each job's first verdict is what the fault calls for.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from benchkit import Bench
from printing_kit import (
    FAST_PRINTER,
    SUPERVISOR,
    events_of,
    job_rows,
    make_worker,
    pack_many,
    printed_per_order,
    received_per_job,
)

from drivers.printers import Faults, Printer, PrinterOptions, PrinterTransferError, VirtualPrinterEngine
from drivers.printers.sim import SimTransport
from station.alerts.ledger import active_alerts
from station.printing import label_printed, request_reprint, resolve_unknown


class GoesSilentAfterABreak:
    """A link to a printer that stops answering once a job transfer breaks (it rebooted mid-job)."""

    def __init__(self, engine: VirtualPrinterEngine) -> None:
        self._inner = SimTransport(engine, "silent")
        self._engine = engine
        self.description = self._inner.description

    def query(self, request: bytes, complete: Any, timeout_s: float) -> bytes:
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
    faults: dict[str, Any]
    first: list[tuple[str, str | None]]  # (state, reason) of each order's job after the first pass
    clear: dict[str, Any] = field(default_factory=dict)
    silent_after_break: bool = False


QUEUED = ("queued", None)
DONE = ("done", None)
CASES = {
    "healthy": Case({}, [DONE, DONE, DONE]),
    "paper_out": Case({"paper_out": True}, [QUEUED] * 3, {"paper_out": False}),
    "head_open": Case({"head_open": True, "quiet_on_error": True}, [QUEUED] * 3, {"head_open": False}),
    "no_answer": Case({"no_answer": True}, [QUEUED] * 3, {"no_answer": False}),
    "paper_runs_out_mid_job": Case(
        {"paper_left": 1}, [DONE, ("failed", "printer_error"), QUEUED], {"paper_out": False}
    ),
    "disconnect_mid_job": Case({"drop_mid_job": 1}, [("failed", "transfer_broken"), DONE, DONE]),
    "disconnect_after_print": Case({"drop_after_print": 1}, [("done", "printed_after_error"), DONE, DONE]),
    "disconnect_then_silence": Case(
        {"drop_mid_job": 1},
        [("unknown", "transfer_broken"), QUEUED, QUEUED],
        {"no_answer": False},
        silent_after_break=True,
    ),
    "slow": Case({"slow_ms": 30}, [DONE, DONE, DONE]),
}


def latest(bench: Bench, order_id: str) -> dict[str, Any]:
    return job_rows(bench.store, order_id)[-1]


@pytest.mark.parametrize("name", list(CASES))
def test_fault_matrix(name: str, bench: Bench) -> None:
    case = CASES[name]
    engine = VirtualPrinterEngine(Faults(**case.faults), render_png=False)
    options = PrinterOptions(**FAST_PRINTER)
    transport = GoesSilentAfterABreak(engine) if case.silent_after_break else SimTransport(engine, "bench")
    worker = make_worker(bench.store, Printer(transport, options))
    orders = pack_many(bench, 3)

    worker.run_until_idle()
    assert [(latest(bench, o)["state"], latest(bench, o)["reason"]) for o in orders] == case.first
    if any(state == "queued" for state, _ in case.first):
        assert "device_down" in [e["data"]["alert"] for e in events_of(bench.store, "alert.raised")]

    # The fault clears (paper loaded, head closed, printer back); the queue goes on by itself.
    for fault, value in case.clear.items():
        engine.set_fault(fault, value)
    for _ in range(2):
        worker.retry_now()
        worker.run_until_idle()
    # Nothing that reached the printer was sent to it again without a person's decision.
    assert max(received_per_job(engine).values()) == 1
    assert not [o for o in orders if latest(bench, o)["state"] in ("queued", "sending")]

    # A supervisor settles what the station could not: looks at the printer, then confirms or reprints.
    for order_id in orders:
        job = latest(bench, order_id)
        if job["state"] == "done":
            continue
        came_out = printed_per_order(bench.store, engine)[order_id] > 0
        if job["state"] == "unknown" and came_out:
            assert resolve_unknown(bench.store, job["job_id"], SUPERVISOR, printed=True, reason="on the box").ok
        else:
            assert request_reprint(bench.store, order_id, SUPERVISOR, f"{job['reason']}: no label came out").ok
    worker.run_until_idle()

    assert printed_per_order(bench.store, engine) == dict.fromkeys(orders, 1), "duplicates or losses"
    assert all(label_printed(bench.store, order_id) for order_id in orders)
    assert active_alerts(bench.store) == [], "every alert raised on the way is cleared once the labels are out"
