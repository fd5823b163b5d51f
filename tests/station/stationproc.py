"""Real `station` processes for tests: the console script, a clean environment, a free loopback port, and a
`station run` that is always stopped (SIGKILL at the latest) when the test ends."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def station_cmd() -> list[str]:
    """The installed `station` console script (what a user runs); `python -m station.cli` if it is not there."""
    script = Path(sys.executable).with_name("station")
    return [str(script)] if script.exists() else [sys.executable, "-m", "station.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any STATION_ variable of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    return dict(env, PYTHONUNBUFFERED="1", **extra)


def free_port() -> int:
    """A loopback port nobody listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_to_exit(argv: list[str], env: dict[str, str], umask: int = -1) -> subprocess.CompletedProcess[str]:
    """A `station` verb run to its end (60 s at most)."""
    return subprocess.run(
        [*station_cmd(), *argv], env=env, capture_output=True, text=True, timeout=60, check=False, umask=umask
    )


def bench_token(data: Path, bench: str = "B01") -> str:
    """A new bench token, made with `station token create` on the data directory `data`."""
    result = run_to_exit(["token", "create", "--role", "bench", "--bench", bench], clean_env(STATION_DATA=str(data)))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"^token:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert found is not None, result.stdout
    return found.group(1)


def wait_until_serving(port: int, proc: "subprocess.Popen[str]", timeout_s: float = 60) -> None:
    """Return once the station on `port` answers HTTP (its health asks for credentials: 401)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the station exited before it answered"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port}")


@contextmanager
def station_running(data: Path, port: int, *extra: str, umask: int = -1) -> Iterator["subprocess.Popen[str]"]:
    """`station run --port PORT --data DATA` on the loopback, serving; killed on the way out if still running.

    Its combined stdout and stderr go to `DATA.log` (a pipe nobody reads could fill up and stall it).
    """
    log = data.with_name(data.name + ".log").open("w")
    proc = subprocess.Popen(
        [*station_cmd(), "run", "--host", "127.0.0.1", "--port", str(port), "--data", str(data), *extra],
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        umask=umask,
    )
    try:
        wait_until_serving(port, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()


def station_log(data: Path) -> str:
    """What the station run by `station_running(data, ...)` printed."""
    return data.with_name(data.name + ".log").read_text()
