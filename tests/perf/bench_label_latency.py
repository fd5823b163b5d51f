"""Benchmark: from the last item scan of an order to the label printer receiving its label.

A real station core (SQLite store with its pragmas, the bench workflow with auto-complete, the print worker
in its own thread) prints to the virtual printer on a real TCP port in this process. For each order: open it,
scan its one item (auto-complete makes it packed, auto-print queues the label), and the latency is the time
from just before that scan to the moment the printer has the whole job (the virtual printer's own receive
time, same monotonic clock). Then the waybill is scanned back (the `labeled` guard checks the printer's
confirmation) before the next order. Recipients and addresses differ per order, so rasterised Chinese text
is drawn for each label, not taken from a cache.

The market's best show 5-7 s from last scan to label; the station aims to be far under (BENCHMARKS.md, "Budgets").

    .venv/bin/python tests/perf/bench_label_latency.py [--orders 300] [--cjk raster|ci28] [--dir station-data/perf]
"""

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from drivers import printers
from drivers.printers import VirtualPrinterEngine
from drivers.printers.virtual import VirtualPrinterServer
from station.events import Actor
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.printing import PrintingSettings, PrintWorker, label_printed
from station.scan import ScanRules
from station.store import Store
from station.workflow import BenchDevices, BenchWorkflow, WorkflowSettings

ACTOR = Actor(role="system", id="bench")
NAMES = ("张三", "李四", "王小明", "欧阳娜娜", "赵六", "钱七", "孙悟空", "周杰")
STREETS = ("文三路", "天目山路", "莫干山路", "教工路", "古墩路", "学院路", "延安路", "西溪路")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def order_doc(n: int) -> dict[str, Any]:
    return {
        "order_id": f"SO20260205-{n:05d}",
        "version": 1,
        "customer": {
            "name": NAMES[n % len(NAMES)],
            "phone": f"138{n:08d}",
            "address": {
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "street": f"{STREETS[n % len(STREETS)]} {n} 号 {n % 30 + 1} 幢",
            },
        },
        "carrier": "SF",
        "waybill_no": f"SF{5000000000000 + n}",
        "lines": [{"line_no": 1, "sku": "BAG", "name": "收纳袋", "barcodes": ["6901234567892"], "qty": 1}],
    }


def wait_until(condition: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark: the label did not arrive in time")
        time.sleep(0.0005)


def run(orders: int, cjk: str, directory: Path) -> dict[str, Any]:
    store = Store.open(directory / "station.db")
    add_operator(store, "OP-001", "packer", Role.PACKER, ACTOR)
    for n in range(orders):
        result = intake_order(store, order_doc(n), ACTOR)
        if not result.ok:
            raise RuntimeError(f"benchmark order refused: {result}")
    engine = VirtualPrinterEngine(render_png=False)
    latencies: list[float] = []
    scan_s: list[float] = []
    with VirtualPrinterServer(engine, port=0) as server:
        printer = printers.open_printer(server.url)
        worker = PrintWorker(store, PrintingSettings(cjk=cjk), printer, printers)
        devices = BenchDevices(printer=worker.confirmation)
        workflow = BenchWorkflow(
            store, WorkflowSettings(bounce_window_ms=0), ScanRules(), devices=lambda _bench: devices
        )
        worker.start()
        try:
            if not workflow.handle_scan("B01", "OP-001", "s1").accepted:
                raise RuntimeError("login refused")
            for n in range(orders):
                doc = order_doc(n)
                if not workflow.handle_scan("B01", doc["order_id"], "s1").accepted:
                    raise RuntimeError(f"open refused for {doc['order_id']}")
                received = len(engine.jobs)
                t0 = time.monotonic()
                outcome = workflow.handle_scan("B01", "6901234567892", "s1")
                scan_s.append(time.monotonic() - t0)
                if outcome.status != "packed":
                    raise RuntimeError(f"the last item did not pack the order: {outcome}")
                wait_until(lambda received=received: len(engine.jobs) > received)
                latencies.append(engine.jobs[received].received_at - t0)
                wait_until(lambda order_id=doc["order_id"]: label_printed(store, order_id))
                labeled = workflow.handle_scan("B01", doc["waybill_no"], "s1")
                if not labeled.accepted:
                    raise RuntimeError(f"waybill scan refused: {labeled}")
        finally:
            worker.stop()
            store.close()
    duplicates = len(engine.printed_job_ids()) - len(set(engine.printed_job_ids()))
    return {
        "benchmark": "last item scan -> label received by the printer (virtual printer, TCP 127.0.0.1)",
        "orders": orders,
        "cjk": cjk,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
            "mean": round(statistics.fmean(latencies) * 1000, 2),
        },
        "last_scan_commit_ms": {
            "p50": round(percentile(scan_s, 0.50) * 1000, 2),
            "p99": round(percentile(scan_s, 0.99) * 1000, 2),
        },
        "labels_printed": len(engine.printed_job_ids()),
        "duplicates": duplicates,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpu": platform.machine()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--cjk", choices=("raster", "ci28"), default="raster")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench-label-"))
    if args.dir and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(run(args.orders, args.cjk, directory), indent=2, ensure_ascii=False))
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
