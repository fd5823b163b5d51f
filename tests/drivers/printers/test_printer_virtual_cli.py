"""``python -m drivers.printers.virtual``: another program prints to it over TCP, and it keeps the labels."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from printer_testkit import decode, sample_data

from drivers.printers import open_printer, render_label

REPO = Path(__file__).resolve().parents[3]


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = ""
    while not line.endswith("\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line += process.stdout.readline()
    return line


def test_virtual_printer_command_prints_stores_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drivers.printers.virtual", "--port", "0", "--dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = _first_line(process, 20.0)
        match = re.search(r"tcp://127\.0\.0\.1:(\d+)", line)
        assert match, line
        printer = open_printer(match.group(0), timeout_s=2.0)
        result = printer.print_job("SO20260205-8821", render_label(sample_data(), cjk="raster"))
        assert (result.state, result.labels_printed) == ("done", 1)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped after 1 job(s), label counter 1" in out
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["00001-SO20260205-8821.png", "00001-SO20260205-8821.zpl"]
    codes = {code.text for code in decode((tmp_path / files[0]).read_bytes())}
    assert {"SF1234567890123", "SO20260205-8821"} <= codes


def test_virtual_printer_command_refuses_a_busy_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-m", "drivers.printers.virtual", "--port", str(port), "--no-png"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
