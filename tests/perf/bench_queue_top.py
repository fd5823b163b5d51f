"""Benchmark: `/queue/top` for PDAs against a trivial endpoint of the same FastAPI process.

A server subprocess (the real station app under uvicorn, 10,000 open orders) gets one extra route, a trivial
unauthenticated `GET /bench/trivial`. 50 concurrent pollers hit the trivial route and `/queue/top` in
alternating phases of equal length. Reported: p50/p99 of each and their ratio (budget ≤ 1.5, DESIGN §10),
and the share of 304 answers when pollers send their last ETag and nothing changes.

    .venv/bin/python tests/perf/bench_queue_top.py [--orders 10000] [--pollers 50] [--phase-s 5] [--rounds 2]
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
import sys, json, uvicorn
from pathlib import Path
from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.events import Actor
from station.intake import intake_order

data, port, orders = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
settings = load_settings(None, environ={"STATION_DATA": str(data), "STATION_DEVICES__SCANNERS": "[]"})
station = Station.build(settings)
actor = Actor(role="system", id="bench")
levels = ["加急", "", "", "", "", "", "", ""]
for i in range(orders):
    doc = {"order_id": f"SO20260101-{i}", "version": 1, "notes": levels[i % 8],
           "ship_by": f"2026-12-{1 + i % 28:02d}T{i % 24:02d}:00:00+08:00",
           "lines": [{"line_no": 1, "sku": "X", "name": "x", "barcodes": ["X-1"], "qty": 1}]}
    intake_order(station.store, doc, actor, settings.priority)
tokens = [create_token(station.store, ApiRole.PDA, f"pda-{k}", actor)[1] for k in range(50)]

@station.api.get("/bench/trivial")
async def trivial() -> dict[str, bool]:
    return {"ok": True}

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


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--phase-s", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, tmp, str(port), str(args.orders)], stdout=subprocess.PIPE, text=True, env=env
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
            for _ in range(args.rounds):
                trivial += asyncio.run(_phase(base, "/bench/trivial", tokens, args.phase_s, False))[0]
                top += asyncio.run(_phase(base, "/api/v1/queue/top", tokens, args.phase_s, False))[0]
                lat, codes = asyncio.run(_phase(base, "/api/v1/queue/top", tokens, args.phase_s, True))
                top_etag += lat
                codes_etag += codes
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
    }
    result["ratio_p50"] = round(statistics.median(top) / statistics.median(trivial), 2)
    result["ratio_p99"] = round(_pct(top, 0.99) / _pct(trivial, 0.99), 2)
    result["budget_ratio"] = 1.5
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
