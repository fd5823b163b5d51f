"""Benchmark: bench scans while 8 clients flood the login with random user names, against the same scans idle.

A server subprocess runs the real station app under uvicorn on loopback (one bench token, one operator badge).
A flooder subprocess runs `--flooders` threads, each posting `POST /api/v1/auth/login` with a random user name
and password as fast as answers come. This process posts badge scans (`POST /api/v1/benches/B01/scans`, one
write transaction with its event each) one after another, in phases of `--scans`: idle, flood, idle, flood...
Reported: scan p50/p99 idle and under the flood, their ratio (budget p99 ≤ 1.5, BENCHMARKS.md), and the login
answers by status.

`--no-limits` gives the server a login throttle that never refuses, so every attempt reaches the password pool
(argon2 on every one): what the pool alone does for the scans, without the rate limits' help.

    .venv/bin/python tests/perf/bench_login_flood.py [--scans 300] [--rounds 2] [--flooders 8] [--no-limits]
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx2 as httpx

SERVER = r"""
import sys, json, uvicorn
from pathlib import Path
from station.app import Station
from station.auth import ApiRole, create_token
from station.config import load_settings
from station.events import Actor
from station.orders.model import Role
from station.orders.operators import add_operator

data, port, no_limits = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
settings = load_settings(None, environ={"STATION_DATA": str(data), "STATION_DEVICES__SCANNERS": "[]"})
station = Station.build(settings)
actor = Actor(role="system", id="bench")
add_operator(station.store, "OP-001", "bench", Role.PACKER, actor)
token = create_token(station.store, ApiRole.BENCH, "bench", actor, "B01")[1]
if no_limits:
    from station.api.login_limits import LoginThrottle
    station.api.state.login_throttle = LoginThrottle(client_burst=10**9, global_burst=10**9, max_failures=10**9)
print(json.dumps({"token": token}), flush=True)
uvicorn.run(station.api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
"""

FLOODER = r"""
import secrets, sys, threading, json, collections
import httpx2 as httpx
base, n = sys.argv[1], int(sys.argv[2])
counts = collections.Counter()
stop = threading.Event()
def flood():
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            body = {"username": "u-" + secrets.token_hex(6), "password": secrets.token_hex(8)}
            try:
                counts[client.post("/api/v1/auth/login", json=body).status_code] += 1
            except httpx.HTTPError:
                counts["error"] += 1
threads = [threading.Thread(target=flood, daemon=True) for _ in range(n)]
for t in threads:
    t.start()
print("ready", flush=True)
sys.stdin.readline()
stop.set()
for t in threads:
    t.join(timeout=60)
print(json.dumps({str(k): v for k, v in counts.items()}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples) * 1000, 2),
        "p99": round(_percentile(samples, 0.99) * 1000, 2),
        "max": round(max(samples) * 1000, 2),
    }


def _scans(client: httpx.Client, token: str, n: int, start: int) -> list[float]:
    out = []
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(start, start + n):
        t0 = time.perf_counter()
        response = client.post("/api/v1/benches/B01/scans", json={"code": "OP-001", "device": f"s{i}"}, headers=headers)
        out.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise SystemExit(f"scan answered {response.status_code}: {response.text}")
        time.sleep(0.005)  # a packer's pace is far slower; this only keeps the scans from queueing on each other
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--no-limits", action="store_true")
    args = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, data, str(port), "1" if args.no_limits else "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            token = json.loads(server.stdout.readline())["token"]
            with httpx.Client(base_url=base, timeout=60) as client:
                for _ in range(200):
                    try:
                        client.get("/login")
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
                _scans(client, token, 50, 0)  # warm-up
                idle: list[float] = []
                flood: list[float] = []
                logins: dict[str, int] = {}
                n = 100
                for _ in range(args.rounds):
                    idle += _scans(client, token, args.scans, n)
                    n += args.scans
                    flooder = subprocess.Popen(
                        [sys.executable, "-c", FLOODER, base, str(args.flooders)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    assert flooder.stdout is not None
                    assert flooder.stdin is not None
                    flooder.stdout.readline()
                    time.sleep(1.0)  # let the flood reach its steady state
                    flood += _scans(client, token, args.scans, n)
                    n += args.scans
                    flooder.stdin.write("\n")
                    flooder.stdin.flush()
                    for status, count in json.loads(flooder.stdout.readline()).items():
                        logins[status] = logins.get(status, 0) + count
                    flooder.wait(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    idle_ms, flood_ms = _ms(idle), _ms(flood)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "limits": not args.no_limits,
                "flooders": args.flooders,
                "scans_per_phase": args.scans,
                "idle_ms": idle_ms,
                "flood_ms": flood_ms,
                "ratio_p50": round(flood_ms["p50"] / idle_ms["p50"], 2),
                "ratio_p99": round(flood_ms["p99"] / idle_ms["p99"], 2),
                "budget_p99": 1.5,
                "logins_by_status": logins,
                "load_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
