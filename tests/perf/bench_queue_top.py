"""Benchmark: `/queue/top` for PDAs against a trivial endpoint of the same FastAPI process.

A server subprocess (the real station app under uvicorn, 10,000 open orders) gets extra routes: a trivial
unauthenticated `GET /bench/trivial`, and `POST /bench/churn?on=` that starts or stops a thread in the server
changing the queue every `--change-ms` (alternately a hub order update that toggles 加急 in the notes, and an
explicit level set or cleared, each on a random order, each a commit that clears every PDA's cached top).
50 concurrent pollers hit the trivial route and `/queue/top` in phases of equal length: quiet (nothing changes),
`/queue/top` sending the last ETag while nothing changes, and the trivial route and `/queue/top` again while the
queue changes, so that the top is recomputed from the 10,000 orders instead of served from the cache.
Reported: p50/p99 of each and their ratio (budget ≤ 1.5, BENCHMARKS.md "Budgets"), the share of 304 answers when nothing
changes, the number of changes made, and the load average before and after.

    .venv/bin/python tests/perf/bench_queue_top.py [--orders 10000] [--pollers 50] [--phase-s 5] [--rounds 2]
        [--change-ms 100]
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER = r"""
import sys, json, random, threading, time, uvicorn
from pathlib import Path
from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.events import Actor
from station.orders.intake import intake_order
from station.priority.prioritizer import set_priority

data, port, orders, change_s = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
settings = load_settings(None, environ={"STATION_DATA": str(data), "STATION_DEVICES__SCANNERS": "[]"})
station = Station.build(settings)
actor = Actor(role="system", id="bench")
hub = Actor(role="hub", id="bench")
levels = ["加急", "", "", "", "", "", "", ""]

def doc(i, version, notes):
    return {"order_id": f"SO20260101-{i}", "version": version, "notes": notes,
            "ship_by": f"2026-12-{1 + i % 28:02d}T{i % 24:02d}:00:00+08:00",
            "lines": [{"line_no": 1, "sku": "X", "name": "x", "barcodes": ["X-1"], "qty": 1}]}

for i in range(orders):
    intake_order(station.store, doc(i, 1, levels[i % 8]), actor, settings.priority)
tokens = [create_token(station.store, ApiRole.PDA, f"pda-{k}", actor)[1] for k in range(50)]

versions = {i: 1 for i in range(orders)}
churn = {"on": threading.Event(), "changes": 0, "failed": 0}

def churner():
    rng = random.Random(8)
    n = 0
    due = time.monotonic()
    while True:
        if not churn["on"].is_set():
            churn["on"].wait()
            due = time.monotonic()
        i = rng.randrange(orders)
        if n % 2 == 0:  # the hub updates an order: 加急 comes or goes, its level follows the rules
            versions[i] += 1
            notes = "加急" if rng.random() < 0.5 else ""
            ok = intake_order(station.store, doc(i, versions[i], notes), hub, settings.priority).ok
        else:  # an explicit level, or back to the rules
            level = rng.choice(["A", "B", "C", None])
            ok = set_priority(station.store, f"SO20260101-{i}", level, hub, settings.priority).refusal is None
        n += 1
        churn["changes" if ok else "failed"] += 1
        due += change_s  # on a fixed schedule, so a slow change does not lower the rate
        time.sleep(max(0.0, due - time.monotonic()))

threading.Thread(target=churner, daemon=True).start()

@station.api.get("/bench/trivial")
async def trivial() -> dict[str, bool]:
    return {"ok": True}

@station.api.post("/bench/churn")
async def set_churn(on: bool) -> dict[str, int]:
    (churn["on"].set if on else churn["on"].clear)()
    return {"changes": churn["changes"], "failed": churn["failed"], "generation": station.queue_watch.generation}

print(json.dumps({"tokens": tokens}), flush=True)
uvicorn.run(station.api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
"""


async def _poll(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    until: float,
    out: list[float],
    codes: list[int],
    etag_mode: bool,
) -> None:
    etag: str | None = None
    while time.perf_counter() < until:
        h = dict(headers)
        if etag_mode and etag:
            h["If-None-Match"] = etag
        t0 = time.perf_counter()
        response = await client.get(url, headers=h)
        out.append(time.perf_counter() - t0)
        codes.append(response.status_code)
        etag = response.headers.get("etag", etag)


async def _phase(
    base: str, path: str, tokens: list[str], seconds: float, etag_mode: bool
) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    codes: list[int] = []
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_poll(client, path, {"Authorization": f"Bearer {t}"}, until, latencies, codes, etag_mode) for t in tokens)
        )
    return latencies, codes


def _churn(base: str, *, on: bool) -> dict[str, int]:
    """Start or stop the server's queue changes; returns its counters so far."""
    response = httpx.post(base + "/bench/churn", params={"on": on}, timeout=30)
    response.raise_for_status()
    return dict(response.json())


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--phase-s", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--change-ms", type=float, default=100.0, help="Change the queue this often (changing phases).")
    args = parser.parse_args()
    load_before = os.getloadavg()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, tmp, str(port), str(args.orders), str(args.change_ms / 1000)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            tokens = json.loads(proc.stdout.readline())["tokens"][: args.pollers]
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(base + "/bench/trivial", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            trivial: list[float] = []
            top: list[float] = []
            top_etag: list[float] = []
            codes_etag: list[int] = []
            trivial_changing: list[float] = []
            top_changing: list[float] = []
            churn: dict[str, int] = {}
            top_generations = 0
            for _ in range(args.rounds):
                trivial += asyncio.run(_phase(base, "/bench/trivial", tokens, args.phase_s, False))[0]
                top += asyncio.run(_phase(base, "/api/v1/queue/top", tokens, args.phase_s, False))[0]
                lat, codes = asyncio.run(_phase(base, "/api/v1/queue/top", tokens, args.phase_s, True))
                top_etag += lat
                codes_etag += codes
                _churn(base, on=True)
                try:
                    trivial_changing += asyncio.run(_phase(base, "/bench/trivial", tokens, args.phase_s, False))[0]
                    generation = _churn(base, on=True)["generation"]
                    top_changing += asyncio.run(_phase(base, "/api/v1/queue/top", tokens, args.phase_s, False))[0]
                finally:
                    churn = _churn(base, on=False)
                top_generations += churn["generation"] - generation
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "orders": args.orders,
        "pollers": args.pollers,
        "trivial_ms": {"p50": _pct(trivial, 0.5), "p99": _pct(trivial, 0.99), "n": len(trivial)},
        "queue_top_ms": {"p50": _pct(top, 0.5), "p99": _pct(top, 0.99), "n": len(top)},
        "queue_top_if_none_match_ms": {"p50": _pct(top_etag, 0.5), "p99": _pct(top_etag, 0.99), "n": len(top_etag)},
        "share_304_when_unchanged": round(codes_etag.count(304) / max(1, len(codes_etag)), 4),
        "changing": {
            "every_ms": args.change_ms,
            "changes": churn["changes"],
            "refused": churn["failed"],
            "queue_changes_during_top_phases": top_generations,
            "top_phase_s": args.phase_s * args.rounds,
            "trivial_ms": {
                "p50": _pct(trivial_changing, 0.5),
                "p99": _pct(trivial_changing, 0.99),
                "n": len(trivial_changing),
            },
            "queue_top_ms": {"p50": _pct(top_changing, 0.5), "p99": _pct(top_changing, 0.99), "n": len(top_changing)},
            "ratio_p50": round(statistics.median(top_changing) / statistics.median(trivial_changing), 2),
            "ratio_p99": round(_pct(top_changing, 0.99) / _pct(trivial_changing, 0.99), 2),
            "ratio_p50_to_quiet_trivial": round(statistics.median(top_changing) / statistics.median(trivial), 2),
            "ratio_p99_to_quiet_trivial": round(_pct(top_changing, 0.99) / _pct(trivial, 0.99), 2),
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    result["ratio_p50"] = round(statistics.median(top) / statistics.median(trivial), 2)
    result["ratio_p99"] = round(_pct(top, 0.99) / _pct(trivial, 0.99), 2)
    result["budget_ratio"] = 1.5
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
