"""Benchmark: opening an order by a shop's own number among many orders, against a bare SQLite commit.

The bench finds an order by whatever number is scanned — its id, its channel order number or its waybill —
through three index lookups (`station/workflow/resolve.py`). This times the whole open scan (interpret, look
up, one write transaction, COMMIT) of orders known only by a channel number shaped like nothing the scan
patterns know (`JD-…`, no pattern), with `--orders` orders in the database, interleaved in rounds with the
bare `BEGIN IMMEDIATE; INSERT; COMMIT` of `bench_scan_commit.py`. Each open is followed by an untimed
`CMD:ABORT`, so that the next order can be opened. Budget (BENCHMARKS.md): the scan budget, p99 within 2x of
the bare commit.

    .venv/bin/python tests/perf/bench_open_by_number.py [--orders 100000] [--scans 2000] [--by channel|id]
        [--dir station-data/perf]
"""

import argparse
import json
import platform
import shutil
import sqlite3
import time
from pathlib import Path

from bench_scan_commit import ACTOR, bare_commits, summary_ms

from station.orders.model import Role
from station.orders.operators import add_operator
from station.scan import ScanRules
from station.store import Store
from station.store.database import connect
from station.workflow import BenchWorkflow, WorkflowSettings

ROUND = 200


def fill(store: Store, orders: int) -> None:
    """`orders` pending orders, each known by `ERP-<n>` and the channel number `JD-<n>` (bulk, one transaction)."""
    document = '{"lines": 1}'
    with store.transaction() as tx:
        tx.repo.db.conn.executemany(
            "INSERT INTO orders (order_id, hub_version, version, status, document, received_at_ms, updated_at_ms, "
            "channel_order_no) VALUES (?, 1, 1, 'pending', ?, 0, 0, ?)",
            [(f"ERP-{n}", document, f"JD-{n:012d}") for n in range(orders)],
        )
        tx.repo.db.conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, sku, name, barcodes, qty, serialized) "
            "VALUES (?, 1, 'MUG', 'mug', '[\"MUG\"]', 1, 0)",
            [(f"ERP-{n}",) for n in range(orders)],
        )


def opens(workflow: BenchWorkflow, numbers: list[str]) -> list[float]:
    out = []
    for number in numbers:
        t0 = time.perf_counter()
        outcome = workflow.handle_scan("B01", number, "bench-scanner")
        out.append(time.perf_counter() - t0)
        if not outcome.accepted or outcome.message_key != "order_opened":
            raise RuntimeError(f"benchmark open refused: {outcome.as_dict()}")
        if not workflow.handle_scan("B01", "CMD:ABORT:benchmark", "bench-scanner").accepted:
            raise RuntimeError("benchmark abort refused")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("station-data/perf"))
    parser.add_argument(
        "--by", choices=("channel", "id"), default="channel", help="scan the channel number, or the order id"
    )
    args = parser.parse_args()
    directory = args.dir / "open-by-number"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    store = Store.open(directory / "station.db")
    fill(store, args.orders)
    workflow = BenchWorkflow(store, WorkflowSettings(bounce_window_ms=0), ScanRules())
    add_operator(store, "OP-001", "bench", Role.PACKER, ACTOR)
    assert workflow.handle_scan("B01", "OP-001").accepted
    bare: sqlite3.Connection = connect(directory / "bare.db")
    bare.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    step = max(1, args.orders // args.scans)
    shape = "JD-{n:012d}" if args.by == "channel" else "ERP-{n}"
    numbers = [shape.format(n=n) for n in range(0, args.orders, step)][: args.scans]
    station_s: list[float] = []
    bare_s: list[float] = []
    for start in range(0, len(numbers), ROUND):
        station_s += opens(workflow, numbers[start : start + ROUND])
        bare_s += bare_commits(bare, ROUND, start)
    s, b = summary_ms(station_s), summary_ms(bare_s)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {platform.python_version()} SQLite {sqlite3.sqlite_version}",
                "orders": args.orders,
                "opens": len(station_s),
                "by": args.by,
                "bare_commit_ms": b,
                "open_ms": s,
                "ratio_p50": round(s["p50"] / b["p50"], 2),
                "ratio_p99": round(s["p99"] / b["p99"], 2),
            },
            indent=2,
        )
    )
    store.close()
    bare.close()


if __name__ == "__main__":
    main()
