"""Benchmark: a fleet of 200 stations against one Mosquitto with two hub instances; end-to-end latency.

What runs (all on loopback, started and stopped by this script):
- one Mosquitto (the test kit's generated config, on a free port);
- two hub instances, `python -m cloud_sync.hub run` in their own processes, sharing one SQLite hub database and
  splitting the stations' `evt` messages through the shared subscription `$share/ingest/...`;
- `--stations` stations (default 200), each a real station Store (its own SQLite file in the working
  directory) and a real `SyncAgent` with its own MQTT client id (`WH1-ST001`...) and production settings
  (`SyncSettings` defaults). They run in `--workers` processes (default 4), each one asyncio loop with its share
  of agents, as a station runs its agent on its loop;
- each station appends `--rate` events per second (default 1; phases spread at random) for `--seconds`
  (default 60), one event per transaction, as scans would.

End-to-end latency of an event = the hub database's `received_ms` (the hub's wall clock when it stored the
event: taken in the ingest transaction, just before its COMMIT) minus the event's `wall_raw` (the station's
raw wall clock when the event was appended, before its own COMMIT). Both are this machine's clock, in ms.
Reported as p50 / p90 / p99 / p99.9 / max. Beside it, the station-side view: the time from appending an event
to the agent applying the hub's ack that covers it (hub commit, ack through the broker, agent loop).

After the stream stops, each worker waits for every station to hold the hub's ack of its last event; then the
counting report of the test kit (expected / delivered / duplicates / missing / misordered, hash chain checked)
is taken per station and summed. CPU of the broker, the hubs and the workers over the measured phase (from
"go" until every station is acked) comes from /proc/<pid>/stat.

    .venv/bin/python tests/perf/bench_sync_fleet.py [--stations 200] [--workers 4] [--rate 1] [--seconds 60]

The working directory is temporary (or `--dir`), removed at the end unless `--keep`. Every process the script
starts is stopped on exit, Ctrl+C and errors included. Prints one JSON document on stdout.
"""

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cloud_sync"))

import sync_harness  # noqa: E402 - the test kit lives beside the cloud_sync tests
from sync_harness import (  # noqa: E402
    MOSQUITTO,
    SITE,
    Broker,
    HubProcess,
    MemoryCommands,
    counting_report,
    open_store,
)

from cloud_sync.agent import SyncAgent  # noqa: E402
from cloud_sync.settings import SyncSettings  # noqa: E402
from cloud_sync.wire import Ack  # noqa: E402
from station.events import Actor, NewEvent  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def station_ids(n: int) -> list[str]:
    return [f"ST{i:03d}" for i in range(1, n + 1)]


def station_db(workdir: Path, sid: str) -> Path:
    return workdir / "stations" / f"{sid}.db"


# -- worker process: a share of the stations on one asyncio loop -------------------------------------------------
class FleetStation:
    """One station: its Store, its agent, and what it saw of its events' acks."""

    def __init__(self, sid: str, path: Path, port: int) -> None:
        self.sid = sid
        self.store = open_store(path)
        settings = SyncSettings(broker="127.0.0.1", port=port)
        self.agent = SyncAgent(settings, self.store, MemoryCommands(), site=SITE, station_id=sid,
                               boot_id=self.store.boot_id, versions={"station": "bench-fleet"})  # fmt: skip
        self.store.subscribe(self.agent.notify)
        self.actor = Actor(role="packer", id=f"OP-{sid}", device="scanner-1", bench="B01")
        self.produced = 0
        self.last_seq = self.store.last_seq()
        self.created: dict[int, int] = {}
        self.ack_latency_ms: list[int] = []
        self.acks_by_hub: Counter[str] = Counter()
        self._ack = self.agent.uplink.ack
        self.agent.uplink.ack = self._observed_ack  # type: ignore[method-assign]

    def _observed_ack(self, ack: Ack) -> int:
        before = self.agent.uplink.acked_through
        newly = self._ack(ack)
        now_ms = int(time.time() * 1000)
        self.acks_by_hub[ack.hub or "?"] += 1
        for seq in range(before + 1, self.agent.uplink.acked_through + 1):
            wall = self.created.pop(seq, None)
            if wall is not None:
                self.ack_latency_ms.append(now_ms - wall)
        return newly

    def append(self) -> None:
        with self.store.transaction() as tx:
            env = tx.append(NewEvent("item.verified", self.actor, f"SO-{self.sid}-{self.produced % 50}",
                                     {"line_no": 1, "qty": 1, "sku": "SKU-1", "n": self.produced}))  # fmt: skip
        self.created[int(env["seq"])] = int(env["wall_raw"])
        self.last_seq = int(env["seq"])
        self.produced += 1

    @property
    def ready(self) -> bool:
        return self.agent.connected and self.agent.hub_online is True

    @property
    def drained(self) -> bool:
        return self.agent.uplink.acked_through >= self.last_seq


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def produce(st: FleetStation, rate: float, t_end: float, stop: asyncio.Event, rng: random.Random) -> None:
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    next_t = loop.time() + rng.uniform(0, period)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_t - loop.time()))
        if stop.is_set() or loop.time() >= t_end:
            return
        st.append()
        next_t += period


async def wait_until(predicate: Any, timeout_s: float, stop: asyncio.Event) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if stop.is_set() or time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def worker_main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    # The agents connect and say goodbye in the loop's executor: room for a share of them at once.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=16, thread_name_prefix="fleet-exec"))
    stop = asyncio.Event()
    go = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def read_stdin() -> None:
        # "go" starts the stream; end of file (the parent went away) stops everything.
        for line in sys.stdin:
            if line.strip() == "go":
                loop.call_soon_threadsafe(go.set)
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read_stdin, daemon=True, name="stdin").start()
    sids = station_ids(args.first + args.count - 1)[args.first - 1 :]
    stations = [FleetStation(sid, station_db(args.dir, sid), args.port) for sid in sids]
    result: dict[str, Any] = {"stations": {}, "ack_latency_ms": []}
    try:
        t0 = time.monotonic()
        for st in stations:
            st.agent.start()
        ready = await wait_until(lambda: all(st.ready for st in stations), args.ready_timeout, stop)
        result["ready_s"] = round(time.monotonic() - t0, 2)
        if not ready:
            raise RuntimeError(f"{sum(not st.ready for st in stations)} stations not connected with the hub online")
        say("ready")
        await asyncio.wait([asyncio.create_task(go.wait()), asyncio.create_task(stop.wait())],
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if stop.is_set():
            raise RuntimeError("stopped before go")
        t_end = loop.time() + args.seconds
        rng = random.Random(args.first)
        await asyncio.gather(*(produce(st, args.rate, t_end, stop, rng) for st in stations))
        t1 = time.monotonic()
        drained = await wait_until(lambda: all(st.drained for st in stations), args.drain_timeout, stop)
        result["drained"] = drained
        result["drain_wait_s"] = round(time.monotonic() - t1, 2)
        say("drained")
        for st in stations:
            health = st.agent.health()
            counters = health["counters"]
            result["stations"][st.sid] = {
                "produced": st.produced,
                "last_seq": st.last_seq,
                "acked_through": st.agent.uplink.acked_through,
                "evt_messages": counters["messages"],
                "resent_events": counters["resent_events"],
                "stall_resends": counters["stall_resends"],
                "link_restarts": health["link_restarts"],
                "watchdog_restarts": health["watchdog_restarts"],
                "acks_by_hub": dict(st.acks_by_hub),
            }
            result["ack_latency_ms"].extend(st.ack_latency_ms)
    finally:
        await asyncio.gather(*(st.agent.stop() for st in stations), return_exceptions=True)
        for st in stations:
            st.store.close()
        args.result.write_text(json.dumps(result))
    say("done")


def worker(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="bench_sync_fleet.py _worker")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--drain-timeout", type=float, required=True)
    p.add_argument("--result", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(worker_main(args))


# -- the conductor ------------------------------------------------------------------------------------------------
def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        stat = fh.read()
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def percentiles(values: list[int] | list[float]) -> dict[str, float | None]:
    """Nearest-rank percentiles and the max, in ms."""
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "p99_9": None, "max": None, "mean": None}
    data = sorted(values)
    n = len(data)

    def rank(p: float) -> float:
        return float(data[min(n - 1, max(0, int(p * n + 0.999999) - 1))])

    return {"n": n, "p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "p99_9": rank(0.999),
            "max": float(data[-1]), "mean": round(sum(data) / n, 1)}  # fmt: skip


def read_line(proc: subprocess.Popen[bytes], expected: str, name: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if line != expected:
        raise RuntimeError(f"{name}: expected {expected!r}, got {line!r} (exit {proc.poll()}); see its log")


def hub_latencies(hub_db: Path) -> list[int]:
    conn = sqlite3.connect(hub_db, timeout=30)
    try:
        rows = conn.execute(
            "SELECT received_ms - json_extract(envelope, '$.wall_raw') FROM hub_events WHERE site=?", [SITE]
        ).fetchall()
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def station_counting_report(sid: str, workdir: Path, hub_db: Path) -> dict[str, int]:
    """The test kit's counting report for one station (the kit reads the station id from its module global)."""
    saved = sync_harness.STATION
    sync_harness.STATION = sid
    store = open_store(station_db(workdir, sid))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return counting_report(f"fleet {sid}", store, hub_db)
    finally:
        store.close()
        sync_harness.STATION = saved


def mosquitto_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([MOSQUITTO, "-h"], capture_output=True, timeout=5, check=False).stdout.decode()
        return out.splitlines()[0].strip() if out else "unknown"
    return "unknown"


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="processes the stations are spread over")
    parser.add_argument("--rate", type=float, default=1.0, help="events per second per station")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the stations produce")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="after the stream, wait this for acks")
    parser.add_argument("--broker-nodelay", action="store_true",
                        help="set_tcp_nodelay true in mosquitto.conf (its default: Nagle on)")  # fmt: skip
    parser.add_argument("--dir", type=Path, help="working directory (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    # SIGTERM like Ctrl+C: unwind through `finally`, which stops everything this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.stations < 1 or not 1 <= args.workers <= args.stations or args.rate <= 0:
        parser.error("need stations >= workers >= 1 and rate > 0")

    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-fleet-")) if args.dir is None else args.dir
    if args.dir is not None:
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
    (workdir / "stations").mkdir()
    hub_db = workdir / "hub.db"
    broker = Broker(workdir / "broker", extra="set_tcp_nodelay true" if args.broker_nodelay else "")
    hubs = [HubProcess(broker.port, hub_db, f"hub-{i}") for i in (1, 2)]
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    try:
        broker.start()
        for hub in hubs:
            hub.start()
        sids = station_ids(args.stations)
        per = -(-args.stations // args.workers)
        t_setup = time.monotonic()
        for w in range(args.workers):
            first = w * per + 1
            count = min(per, args.stations - first + 1)
            if count <= 0:
                break
            log = (workdir / f"worker-{w + 1}.log").open("ab")
            logs.append(log)
            cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", "--port", str(broker.port),
                   "--dir", str(workdir), "--first", str(first), "--count", str(count), "--rate", str(args.rate),
                   "--seconds", str(args.seconds), "--drain-timeout", str(args.drain_timeout),
                   "--result", str(workdir / f"worker-{w + 1}.json")]  # fmt: skip
            # Own session: Ctrl+C reaches only this script, which then stops the workers in order.
            workers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            cwd=REPO, start_new_session=True))  # fmt: skip
        for i, proc in enumerate(workers):
            read_line(proc, "ready", f"worker {i + 1}")
        setup_s = time.monotonic() - t_setup
        pids = {"broker": broker.proc.pid if broker.proc else 0}
        pids.update({f"hub-{i + 1}": h.proc.pid for i, h in enumerate(hubs) if h.proc is not None})
        pids.update({f"worker-{i + 1}": p.pid for i, p in enumerate(workers)})
        cpu0 = {name: cpu_ticks(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        for i, proc in enumerate(workers):
            read_line(proc, "drained", f"worker {i + 1}")
        elapsed = time.monotonic() - t0
        cpu = {name: round((cpu_ticks(pid) - cpu0[name]) / CLK_TCK / elapsed * 100, 1) for name, pid in pids.items()}
        rss = {name: rss_mb(pid) for name, pid in pids.items()}
        for i, proc in enumerate(workers):
            read_line(proc, "done", f"worker {i + 1}")
            proc.wait(30)
        results = [json.loads((workdir / f"worker-{i + 1}.json").read_text()) for i in range(len(workers))]
        for proc in workers:
            stop_worker(proc)
        for hub in hubs:
            hub.stop()

        stations: dict[str, dict[str, Any]] = {}
        ack_latency: list[int] = []
        for r in results:
            stations.update(r["stations"])
            ack_latency.extend(r["ack_latency_ms"])
        produced = sum(s["produced"] for s in stations.values())
        acks_by_hub: Counter[str] = Counter()
        for s in stations.values():
            acks_by_hub.update(s["acks_by_hub"])
        latencies = hub_latencies(hub_db)
        totals = Counter[str]()
        unclean = []
        for sid in sids:
            report = station_counting_report(sid, workdir, hub_db)
            totals.update(report)
            if report["missing"] or report["duplicates"] or report["misordered"]:
                unclean.append(sid)
        print(
            json.dumps(
                {
                    "benchmark": "sync_fleet",
                    "stations": args.stations,
                    "workers": len(workers),
                    "hub_instances": len(hubs),
                    "rate_per_station_per_s": args.rate,
                    "seconds": args.seconds,
                    "broker_tcp_nodelay": args.broker_nodelay,
                    "setup_s": round(setup_s, 1),
                    "measured_s": round(elapsed, 1),
                    "all_drained": all(r.get("drained") for r in results),
                    "drain_wait_s": max(r.get("drain_wait_s", 0) for r in results),
                    "events_nominal": round(args.stations * args.rate * args.seconds),
                    "events_expected": produced,
                    "events_stored": len(latencies),
                    "e2e_latency_ms": percentiles(latencies),
                    "station_ack_latency_ms": percentiles(ack_latency),
                    "counting_report_sum": dict(totals),
                    "stations_unclean": unclean,
                    "acks_by_hub": dict(acks_by_hub),
                    "evt_messages": sum(s["evt_messages"] for s in stations.values()),
                    "resent_events": sum(s["resent_events"] for s in stations.values()),
                    "stall_resends": sum(s["stall_resends"] for s in stations.values()),
                    "link_restarts": sum(s["link_restarts"] for s in stations.values()),
                    "watchdog_restarts": sum(s["watchdog_restarts"] for s in stations.values()),
                    "cpu_percent_of_one_core": cpu,
                    "rss_mb_at_end": rss,
                    "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                                "cpus": os.cpu_count(), "mosquitto": mosquitto_version(),
                                "loadavg_start": loadavg_start,
                                "loadavg_end": [round(x, 2) for x in os.getloadavg()]},
                },
                indent=2,
            )
        )  # fmt: skip
    finally:
        for proc in workers:
            stop_worker(proc)
        for log in logs:
            log.close()
        for hub in hubs:
            hub.stop()
        broker.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
