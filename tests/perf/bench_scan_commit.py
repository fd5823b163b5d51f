"""Benchmark: scan → committed → feedback latency, against a bare SQLite insert + commit.

Both run in the same process, on the same file system, with the same pragmas (WAL, synchronous=FULL),
interleaved in rounds so that machine noise hits both alike. The budget (BENCHMARKS.md, "Budgets"): station p99 within
2x of the bare commit p99.

The station checkpoints its WAL from housekeeping (`Store.checkpoint()`, PASSIVE, off the writer thread), not
inside a scan's COMMIT. A thread here does the same, every `--checkpoint-every-s`, while the scans run, so its
I/O competes with theirs as in the field. The bare side keeps SQLite's default auto-checkpoint.

    .venv/bin/python tests/perf/bench_scan_commit.py [--scans 10000] [--dir station-data/perf]
        [--checkpoint-every-s 0.05] [--no-reading-cache]

The benchmark cycles through ten item codes, so after the first ten scans every code is in the workflow's
`ReadingCache`, as a bench's repeat items are. `--no-reading-cache` interprets every read afresh: the cost
of a code the station has not seen today.
"""

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import threading
import time
from pathlib import Path

from station.events import Actor
from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.operators import add_operator
from station.scan import ScanRules
from station.scan import cache as reading_cache
from station.store import Store
from station.store.database import connect
from station.workflow import BenchWorkflow, WorkflowSettings

ROUND = 500  # operations per side per round
ACTOR = Actor(role="system", id="bench")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples) * 1000, 3),
        "p99": round(percentile(samples, 0.99) * 1000, 3),
        "p99.9": round(percentile(samples, 0.999) * 1000, 3),
        "max": round(max(samples) * 1000, 3),
    }


def bare_commits(conn: sqlite3.Connection, n: int, start: int) -> list[float]:
    out = []
    for i in range(start, start + n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (id, v) VALUES (?, ?)", [i, "x" * 200])
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    return out


def station_scans(workflow: BenchWorkflow, n: int, codes: list[str]) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        outcome = workflow.handle_scan("B01", codes[i % len(codes)], "bench-scanner")
        out.append(time.perf_counter() - t0)
        if not outcome.accepted:
            raise RuntimeError(f"benchmark scan refused: {outcome.as_dict()}")
    return out


def checkpoints(store: Store, every_s: float, stop: threading.Event, wal_pages: list[int]) -> None:
    """Housekeeping's WAL checkpoint, on its own thread; records the WAL's size in pages at each run."""
    while not stop.wait(every_s):
        result = store.checkpoint()
        if result is not None:
            wal_pages.append(result[0])


def setup_station(directory: Path, scans: int) -> tuple[Store, BenchWorkflow, list[str]]:
    store = Store.open(directory / "station.db")
    workflow = BenchWorkflow(store, WorkflowSettings(bounce_window_ms=0, auto_complete=False), ScanRules())
    add_operator(store, "OP-001", "bench", Role.PACKER, ACTOR)
    codes = [f"ITEM-{k:02d}" for k in range(10)]
    per_line = scans // len(codes) + 1
    lines = [
        {"line_no": k + 1, "sku": code, "name": code, "barcodes": [code], "qty": per_line}
        for k, code in enumerate(codes)
    ]
    result = intake_order(store, {"order_id": "SO20260101-1", "version": 1, "lines": lines}, ACTOR)
    assert result.ok, result
    assert workflow.handle_scan("B01", "OP-001").accepted
    assert workflow.handle_scan("B01", "SO20260101-1").accepted
    return store, workflow, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("station-data/perf"))
    parser.add_argument(
        "--checkpoint-every-s",
        type=float,
        default=0.05,
        help="period of the housekeeping-like WAL checkpoint thread (0 = none: only the writer's backstop)",
    )
    parser.add_argument("--no-reading-cache", action="store_true", help="interpret every read afresh")
    args = parser.parse_args()
    if args.no_reading_cache:
        reading_cache.CACHEABLE_LENGTH = -1  # no read is short enough to be remembered
    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    bare = connect(args.dir / "bare.db")
    bare.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    store, workflow, codes = setup_station(args.dir, args.scans)
    bare_samples: list[float] = []
    station_samples: list[float] = []
    stop = threading.Event()
    wal_pages: list[int] = []
    checkpointer = threading.Thread(
        target=checkpoints, args=(store, args.checkpoint_every_s, stop, wal_pages), name="checkpoint", daemon=True
    )
    if args.checkpoint_every_s > 0:
        checkpointer.start()
    done = 0
    while done < args.scans:
        n = min(ROUND, args.scans - done)
        bare_samples += bare_commits(bare, n, done)
        station_samples += station_scans(workflow, n, codes)
        done += n
    stop.set()
    if checkpointer.is_alive():
        checkpointer.join()
    store.close()
    bare.close()
    result = {
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "scans": args.scans,
        "reading_cache": not args.no_reading_cache,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "checkpoints": {
            "every_s": args.checkpoint_every_s,
            "runs": len(wal_pages),
            "max_wal_pages": max(wal_pages, default=0),
        },
        "bare_commit_ms": summary_ms(bare_samples),
        "scan_commit_ms": summary_ms(station_samples),
    }
    result["ratio_p50"] = round(result["scan_commit_ms"]["p50"] / result["bare_commit_ms"]["p50"], 2)
    result["ratio_p99"] = round(result["scan_commit_ms"]["p99"] / result["bare_commit_ms"]["p99"], 2)
    result["budget_p99_ratio"] = 2.0
    result["within_budget"] = result["ratio_p99"] <= 2.0
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
