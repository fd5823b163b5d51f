"""Benchmark: the station's memory stays flat while a large backlog (1,000,000 events) waits offline.

What is measured: the resident memory of one process that holds the real station Store (SQLite, the station's
pragmas) and the real sync agent (`SyncAgent` on its own asyncio loop thread, subscribed to the store so every
commit calls `notify`), while events are appended in a steady stream of large transactions and nothing can be
sent. Two ways of "offline" (`--offline`):

- `down` (default): the agent is configured for a loopback port where no broker listens yet; it keeps trying
  to connect (the test kit's fast backoff, 0.05-0.5 s, so the connect/teardown path runs hundreds of times);
- `nohub`: Mosquitto is up and the agent connected, but no hub has announced `online`, so it holds its backlog.

Every `--sample-every` events the script reads VmRSS, RssAnon and RssFile from /proc/self/status. It reports
RSS at start (agent running, nothing appended), after the warm-up (`--warmup` events: SQLite's page cache and
Python's allocator arenas fill up), the maximum and the end, and the least-squares slope after the warm-up in
MB per 100,000 events. "Flat" means the slope is about zero: the agent reads the outbox a page at a time and
must not hold the backlog in memory. With `--drain`, Mosquitto (if down) and a hub (`python -m cloud_sync.hub`
in a subprocess, so its memory is not counted) are brought up and the backlog is drained: the drain time,
rate, the station's RSS during the drain and the counting report are added.

    .venv/bin/python tests/perf/bench_sync_memory.py [--events 300000] [--drain] [--offline down|nohub]
    .venv/bin/python tests/perf/bench_sync_memory.py --events 1000000 --drain      # the full size

The database lives in a temporary directory (or `--dir`), removed at the end unless `--keep`. Everything the
script starts (agent, broker, hub) is stopped on exit, Ctrl+C included. Prints one JSON document.
"""

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cloud_sync"))

from sync_harness import (  # noqa: E402 - the test kit lives beside the cloud_sync tests
    AgentThread,
    Broker,
    HubProcess,
    MemoryCommands,
    append_events,
    counting_report,
    free_port,
    open_store,
    sync_settings,
)

MB = 1024 * 1024


def memory() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and RssShmem of this process, in MB."""
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024 / MB
    return out


def slope_per_100k(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of (events, MB) points, in MB per 100,000 events."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx * 100_000


def thin(samples: list[dict[str, Any]], keep: int = 40) -> list[list[float]]:
    """At most `keep` [events, VmRSS MB, RssAnon MB] rows, evenly spread, always with the last one."""
    step = max(1, len(samples) // keep)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return [[s["events"], round(s["VmRSS"], 1), round(s["RssAnon"], 1)] for s in picked]


def dump(result: dict[str, Any]) -> str:
    """Indented JSON with the sample rows kept one to a line."""
    rows = result.pop("samples_events_vmrss_anon")
    result["samples_events_vmrss_anon"] = "@ROWS@"
    text = json.dumps(result, indent=2)
    body = ",\n".join(f"    {json.dumps(r)}" for r in rows)
    return text.replace('"@ROWS@"', "[\n" + body + "\n  ]")


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000, help="events appended while offline (full: 1000000)")
    parser.add_argument("--per-tx", type=int, default=1000, help="events per transaction")
    parser.add_argument("--sample-every", type=int, default=10_000, help="read the RSS every this many events")
    parser.add_argument("--warmup", type=int, default=50_000, help="events before the slope is measured")
    parser.add_argument("--offline", choices=["down", "nohub"], default="down")
    parser.add_argument("--drain", action="store_true", help="then bring broker and hub up and drain the backlog")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--dir", type=Path, help="working directory (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    # SIGTERM like Ctrl+C: unwind through `finally`, which stops everything this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The agent's warnings (each refused connect while the broker is down) go to stderr, the JSON to stdout.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 0 <= args.warmup < args.events:
        parser.error("--warmup must be below --events")

    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-memory-")) if args.dir is None else args.dir
    if args.dir is not None:
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
    broker = Broker(workdir / "broker", port=free_port())
    hub: HubProcess | None = None
    agent: AgentThread | None = None
    store = None
    try:
        if args.offline == "nohub":
            broker.start()
        store = open_store(workdir / "station.db")
        agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
        if args.offline == "nohub":
            wait_for(lambda: agent is not None and agent.agent.connected, 10, "the agent to connect")
        time.sleep(0.5)
        start = memory()
        samples: list[dict[str, Any]] = [{"events": 0, **start}]
        states: set[str] = set()
        t0 = time.perf_counter()
        done = 0
        while done < args.events:
            k = min(args.sample_every, args.events - done)
            append_events(store, k, per_tx=args.per_tx)
            done += k
            samples.append({"events": done, **memory()})
            states.add(agent.agent.state)
            if not agent.thread.is_alive():
                raise RuntimeError("the agent's loop thread died")
        append_s = time.perf_counter() - t0
        health = agent.health()
        sent_offline = health["counters"]["messages"]
        after = [s for s in samples if s["events"] >= args.warmup]
        warm = after[0]
        result: dict[str, Any] = {
            "benchmark": "sync_memory",
            "events": args.events,
            "per_tx": args.per_tx,
            "offline": args.offline,
            "sample_every": args.sample_every,
            "warmup_events": args.warmup,
            "append_s": round(append_s, 1),
            "append_events_per_s": round(args.events / append_s),
            "rss_mb": {
                "start": round(start["VmRSS"], 1),
                "after_warmup": round(warm["VmRSS"], 1),
                "max": round(max(s["VmRSS"] for s in samples), 1),
                "end": round(samples[-1]["VmRSS"], 1),
            },
            "rss_anon_mb": {
                "start": round(start["RssAnon"], 1),
                "after_warmup": round(warm["RssAnon"], 1),
                "max": round(max(s["RssAnon"] for s in samples), 1),
                "end": round(samples[-1]["RssAnon"], 1),
            },
            "rss_file_mb_end": round(samples[-1]["RssFile"], 1),
            "rss_shmem_mb_end": round(samples[-1].get("RssShmem", 0.0), 1),
            "slope_mb_per_100k_events_after_warmup": {
                key: None if (v := slope_per_100k([(s["events"], s[key]) for s in after])) is None else round(v, 3)
                for key in ("VmRSS", "RssAnon", "RssFile")
            },
            "growth_after_warmup_mb": round(samples[-1]["VmRSS"] - warm["VmRSS"], 1),
            "agent_offline": {
                "states_seen": sorted(states),
                "messages_sent": sent_offline,
                "link_restarts": health["link_restarts"],
                "backlog": health["backlog"],
                "oldest_unacked_age_s": health["oldest_unacked_age_s"],
                "last_error": health["last_error"],
            },
            "db_mb": round(sum(p.stat().st_size for p in workdir.glob("station.db*")) / MB, 1),
            "samples_events_vmrss_anon": thin(samples),
        }
        if args.drain:
            last = store.last_seq()
            if args.offline == "down":
                broker.start()
            hub = HubProcess(broker.port, workdir / "hub.db", "hub-1").start()
            t1 = time.perf_counter()
            drain_max = 0.0
            deadline = time.monotonic() + args.drain_timeout
            while agent.agent.uplink.acked_through < last:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"drain did not finish in {args.drain_timeout} s")
                drain_max = max(drain_max, memory()["VmRSS"])
                time.sleep(0.1)
            drain_s = time.perf_counter() - t1
            end = memory()
            counters = agent.health()["counters"]
            agent.stop()
            agent = None
            with contextlib.redirect_stdout(io.StringIO()):
                report = counting_report("sync_memory", store, workdir / "hub.db")
            result["drain"] = {
                "drain_s": round(drain_s, 1),
                "events_per_s": round(last / drain_s),
                "note": "from the hub process reporting running to the hub's ack of the last event at the station "
                "(offline=down: includes the agent's reconnect backoff, at most 0.5 s)",
                "rss_mb_max_during": round(max(drain_max, end["VmRSS"]), 1),
                "rss_mb_after": round(end["VmRSS"], 1),
                "evt_messages": counters["messages"],
                "resent_events": counters["resent_events"],
                "counting_report": report,
            }
        result["machine"] = {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        }
        print(dump(result))
    finally:
        if agent is not None:
            with contextlib.suppress(Exception):
                agent.stop()
        if hub is not None:
            hub.stop()
        broker.stop()
        if store is not None:
            store.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
