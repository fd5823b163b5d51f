"""SIGTERM stops `station run` promptly even while bench screens long-poll: the long-polls answer at once instead of
holding uvicorn's graceful shutdown for their `?wait=`, and the database is left whole."""

import asyncio
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from stationproc import bench_token, clean_env, free_port, run_to_exit, station_running

from station.api.queue_watch import ChangeSignal

# Generous: the station stops in well under a second; before, a waiting bench screen held it for 10 s.
STOP_DEADLINE_S = 5.0


def _screen(port: int, token: str, etag: str | None = None, wait_s: int = 0) -> tuple[int, str]:
    """GET the bench screen: (status, ETag)."""
    headers = {"Authorization": f"Bearer {token}"} | ({"If-None-Match": etag} if etag else {})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/benches/B01/screen?wait={wait_s}", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), str(response.headers["ETag"])
    except urllib.error.HTTPError as err:
        return err.code, str(err.headers.get("ETag"))


def test_sigterm_answers_the_bench_screens_long_poll_and_exits_0_quickly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = bench_token(data)
    port = free_port()
    answered: list[tuple[int, str]] = []
    with station_running(data, port) as proc:
        status, etag = _screen(port, token)
        assert status == 200
        poll = threading.Thread(target=lambda: answered.append(_screen(port, token, etag, wait_s=20)))
        poll.start()
        time.sleep(0.5)  # let the long-poll reach the station and wait there (nothing will change the screen)
        assert not answered
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - stopping
        poll.join(timeout=30)
    assert code == 0
    assert took < STOP_DEADLINE_S, f"SIGTERM took {took:.1f} s"
    assert answered == [(304, etag)]  # answered, not cut off with a 500
    check = run_to_exit(["db", "check"], clean_env(STATION_DATA=str(data)))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "integrity: ok" in check.stdout


def test_a_closed_signal_answers_waiting_long_polls_and_waits_no_more() -> None:
    async def scenario() -> list[str]:
        signal_ = ChangeSignal()
        signal_.bind(asyncio.get_running_loop())
        asked: list[str] = []

        async def answer() -> tuple[str, str]:
            asked.append("asked")
            return '"same"', "screen"

        waiting = asyncio.create_task(signal_.until_changed(60, '"same"', answer))
        await asyncio.sleep(0.05)
        signal_.close()
        assert await asyncio.wait_for(waiting, STOP_DEADLINE_S) == ('"same"', "screen")
        # A long-poll that starts after the close does not wait either.
        assert await asyncio.wait_for(signal_.until_changed(60, '"same"', answer), STOP_DEADLINE_S) == (
            '"same"',
            "screen",
        )
        return asked

    assert asyncio.run(scenario()) == ["asked", "asked", "asked"]
