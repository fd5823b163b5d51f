"""Benchmark: the whole station service's memory and idle CPU (BENCHMARKS.md, "Budgets": below 150 MB RSS with
one camera, idle CPU below 2 %).

Starts the real service (`station run`, embedded defaults in a fresh data directory, the simulated bench
controller and printer) as a subprocess, twice:

- **idle**: no camera. After a warm-up, nothing happens for `--seconds`; CPU is the process's user + system
  time over that window (from `/proc/<pid>/stat`) as a share of one core.
- **camera**: one `sim://` camera at 1280×720, 30 fps, recording continuously with the overlay (libx264 on
  this machine; a Pi 4 can use `h264_v4l2m2m`). Memory is VmRSS sampled every second and VmHWM at the end.

Both report RSS the same way, so the camera's share is the difference. A few scans are posted first (refused:
a fresh station knows no badge) so that the API, the workflow and the store have all run once: a service that
was never used is smaller than one at a bench.

    .venv/bin/python tests/perf/bench_service_footprint.py [--seconds 60] [--warmup-s 20]
"""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STATION = Path(sys.executable).parent / "station"
TICKS = os.sysconf("SC_CLK_TCK")
BUDGET_RSS_MB = 150.0
BUDGET_IDLE_CPU = 0.02
CAMERA = "sim://bench?width=1280&height=720&fps=30"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_s(pid: int) -> float:
    # Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def create_token(env: dict[str, str], role: str, bench: str | None = None) -> str:
    args = [str(STATION), "token", "create", "--role", role, "--name", f"footprint-{role}"]
    if bench:
        args += ["--bench", bench]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return next(line.split()[-1] for line in out.splitlines() if line.startswith("token:"))


def exercise(base: str, bench_token: str) -> None:
    """A few scans through the API (a fresh station knows no badge: each is a recorded refusal)."""
    for code in ("OP-001", "NOPE-CODE", "OP-001"):
        request = urllib.request.Request(
            base + "/api/v1/benches/B01/scans",
            data=json.dumps({"code": code, "device": "footprint"}).encode(),
            headers={"Authorization": f"Bearer {bench_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def run_service(
    data: Path, camera: str | None, warmup_s: float, seconds: float, extra_env: dict[str, str]
) -> dict[str, Any]:
    port = free_port()
    env = (
        os.environ
        | extra_env
        | {
            "STATION_DATA": str(data),
            "STATION_API__PORT": str(port),
            "STATION_DEVICES__PRINTER": "sim://",
        }
    )
    if camera:
        env["STATION_DEVICES__CAMERA"] = camera
    else:
        env.pop("STATION_DEVICES__CAMERA", None)
    bench_token = create_token(env, "bench", "B01")
    # The log goes to a file: a pipe nobody reads would fill up and stall the service mid-measurement.
    log = data.parent / f"{data.name}.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen([str(STATION), "run"], env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"station run exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/metrics", timeout=1):
                    break
            except urllib.error.HTTPError:  # an answer (e.g. 401): the service is up
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError("station run did not answer within 60 s") from None
                time.sleep(0.2)
        exercise(base, bench_token)
        time.sleep(warmup_s)
        rss: list[int] = []
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        while time.monotonic() - t0 < seconds:
            rss.append(status_kb(proc.pid, "VmRSS"))
            time.sleep(1.0)
        cpu1, t1 = cpu_s(proc.pid), time.monotonic()
        hwm = status_kb(proc.pid, "VmHWM")
        threads = status_kb(proc.pid, "Threads")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "camera": camera,
        "rss_mb": {"min": round(min(rss) / 1024, 1), "max": round(max(rss) / 1024, 1), "end": round(rss[-1] / 1024, 1)},
        "peak_rss_mb": round(hwm / 1024, 1),
        "cpu_share_of_one_core": round((cpu1 - cpu0) / (t1 - t0), 4),
        "threads": threads,
        "exit_code": proc.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per configuration")
    parser.add_argument("--warmup-s", type=float, default=20.0)
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the service, e.g. MALLOC_ARENA_MAX=2"
    )
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    results = []
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        for name, camera in (("idle", None), ("camera", CAMERA)):
            results.append(
                {"run": name} | run_service(Path(tmp) / name, camera, args.warmup_s, args.seconds, extra_env)
            )
    idle, cam = results
    print(
        json.dumps(
            {
                "machine": f"{platform.node()} {platform.machine()}",
                "python": platform.python_version(),
                "env": extra_env,
                "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                "runs": results,
                "budget": {"rss_mb": BUDGET_RSS_MB, "idle_cpu_share": BUDGET_IDLE_CPU},
                "rss_within_budget_with_camera": cam["peak_rss_mb"] < BUDGET_RSS_MB,
                "idle_cpu_within_budget": idle["cpu_share_of_one_core"] < BUDGET_IDLE_CPU,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
