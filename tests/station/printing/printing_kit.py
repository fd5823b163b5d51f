"""Test helpers for station printing: sim printers with fast timings, a worker, packed orders, and counting
what the virtual printer really printed per order."""

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from benchkit import FEEDER_UNIT, FOOD, GIFT, HUB, Bench, order_doc

from drivers import printers
from drivers.printers import Faults, Printer, VirtualPrinterEngine
from station.events import Actor
from station.orders.intake import intake_order
from station.printing import PrintingSettings, PrintWorker
from station.store import Store

SUPERVISOR = Actor(role="supervisor", id="SV-001", device="web")
PACKER = Actor(role="packer", id="OP-001", device="scanner-1", bench="B01")
FAST_PRINTER = {"timeout_s": 0.5, "print_timeout_s": 0.5, "poll_interval_s": 0.01, "settle_s": 0.05}
FAST_QUEUE: dict[str, Any] = {
    "cjk": "ci28",  # no font rasterising: quick; the raster path is covered by the preview test
    "status_poll_s": 0.05,
    "retry_backoff_min_s": 0.01,
    "retry_backoff_max_s": 0.05,
    "recovery_settle_s": 0.05,
}


def sim_printer(odometer_start: int = 0, **faults: Any) -> tuple[Printer, VirtualPrinterEngine]:
    """An in-process virtual printer with these faults, and a Printer with short timeouts on it."""
    engine = VirtualPrinterEngine(Faults(**faults), render_png=False, odometer_start=odometer_start)
    return printers.open_printer("sim://bench", engine=engine, **FAST_PRINTER), engine


def make_worker(store: Store, printer: Any, **settings: Any) -> PrintWorker:
    """A print worker with fast timings (not started: call `step`/`run_until_idle`, or `start`)."""
    return PrintWorker(store, PrintingSettings(**(FAST_QUEUE | settings)), printer, printers)


def pack(bench: Bench, order_id: str = "SO20260205-8821", bench_id: str = "B01") -> None:
    """Log in at `bench_id`, open the order and verify every line: auto-complete makes it packed."""
    for code in ("OP-001", order_id, FEEDER_UNIT, GIFT, FOOD, FOOD):
        outcome = bench.scan(code, bench=bench_id)
        assert outcome.accepted, outcome
    with bench.store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    assert order.status.value == "packed"


def add_order(store: Store, n: int) -> str:
    """Another copy of the sample order with its own id and waybill; returns the order id."""
    order_id = f"SO20260205-{9000 + n}"
    assert intake_order(store, order_doc(order_id=order_id, waybill_no=f"SF{9000000000000 + n}"), HUB).ok
    return order_id


def pack_many(bench: Bench, count: int) -> list[str]:
    """Pack the sample order and `count - 1` more, each at its own bench (a packed order stays on its bench
    until its label is scanned); returns their ids in packing order."""
    ids = ["SO20260205-8821"] + [add_order(bench.store, n) for n in range(1, count)]
    for n, order_id in enumerate(ids, start=1):
        pack(bench, order_id, f"B{n:02d}")
    return ids


def order_waybill(store: Store, order_id: str) -> str:
    with store.reading() as repo:
        order = repo.order(order_id)
    assert order is not None
    assert order.waybill_no is not None
    return order.waybill_no


def job_rows(store: Store, order_id: str | None = None) -> list[dict[str, Any]]:
    """Print job rows (as dicts), oldest first."""
    with store.reading() as repo:
        if order_id is None:
            return list(repo.db.query("SELECT * FROM print_jobs ORDER BY job_no"))
        return list(repo.db.query("SELECT * FROM print_jobs WHERE order_id = ? ORDER BY job_no", [order_id]))


def printed_per_order(store: Store, engine: VirtualPrinterEngine) -> Counter[str]:
    """How many labels the virtual printer really printed for each order (via the job id on each label)."""
    owner = {row["job_id"]: row["order_id"] for row in job_rows(store)}
    return Counter(owner.get(job_id or "", f"foreign:{job_id}") for job_id in engine.printed_job_ids())


def received_per_job(engine: VirtualPrinterEngine) -> Counter[str]:
    """How many times each job id reached the printer (whole or cut off)."""
    return Counter(job.job_id or "" for job in engine.jobs)


def events_of(store: Store, *types: str) -> list[dict[str, Any]]:
    """Event envelopes of these types, in seq order."""
    return [e for e in store.events_from(1, 100_000) if e["type"] in types]


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll until `condition()` holds; fail after a generous timeout (not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_s} s")
