"""Logins against a station served by uvicorn on loopback, as in the field: a flood of logins with random user
names never puts argon2 on the database thread and never keeps scans from completing; and X-Forwarded-For
(which uvicorn itself believes from loopback by default) neither gives an attacker a fresh address per attempt
nor lets them lock out a supervisor at another address. No timing assertions: the figures are in
tests/perf/bench_login_flood.py."""

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from apikit import PASSWORD
from argon2 import PasswordHasher
from videokit import VideoStation, served_video_station

LOGIN = "/api/v1/auth/login"
FLOODERS = 8


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[VideoStation, str]]:
    yield from served_video_station(tmp_path, "")  # no camera: only the API and the database thread


@pytest.fixture
def argon2_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread of every argon2 hash or verify in the process (both cost the same)."""
    seen: list[str] = []
    verify, hash_ = PasswordHasher.verify, PasswordHasher.hash

    def recording_verify(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        return verify(self, *args, **kwargs)

    def recording_hash(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        return hash_(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", recording_verify)
    monkeypatch.setattr(PasswordHasher, "hash", recording_hash)
    return seen


def test_a_login_flood_runs_argon2_off_the_database_thread_while_scans_complete(
    served: tuple[VideoStation, str], argon2_threads: list[str]
) -> None:
    station, base_url = served
    stop = threading.Event()
    answers: list[tuple[int, str, str | None]] = []

    def flood() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while not stop.is_set():
                body = {"username": "u-" + secrets.token_hex(6), "password": secrets.token_hex(8)}
                response = client.post(LOGIN, json=body)
                headers = response.headers
                answers.append((response.status_code, headers.get("content-type", ""), headers.get("retry-after")))

    flooders = [threading.Thread(target=flood, name=f"flooder-{i}") for i in range(FLOODERS)]
    for thread in flooders:
        thread.start()
    try:
        outcomes = [station.scan("OP-001", device=f"scanner-{i}")["outcome"] for i in range(40)]
    finally:
        stop.set()
        for thread in flooders:
            thread.join(timeout=60)
    assert len(outcomes) == 40  # every scan answered (`scan` asserts each was a 200)
    assert argon2_threads, "the flood reached no password check"
    assert not [name for name in argon2_threads if name.startswith("station-db")], argon2_threads
    assert {name.rpartition("_")[0] for name in argon2_threads} == {"login-verify"}
    statuses = {status for status, _, _ in answers}
    assert statuses <= {401, 429}, statuses
    assert 429 in statuses  # the limits answered most of the flood without any argon2 at all
    for status, content_type, retry_after in answers:
        if status == 429:
            assert content_type.startswith("application/problem+json")
            assert retry_after is not None
            assert int(retry_after) > 0


def _login(client: httpx.Client, password: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(LOGIN, json={"username": "zhao", "password": password}, headers=headers)


def test_forwarded_for_does_not_give_a_fresh_address_per_attempt(served: tuple[VideoStation, str]) -> None:
    _, base_url = served
    with httpx.Client(base_url=base_url, timeout=60) as attacker:
        for i in range(5):
            assert _login(attacker, "wrong-password", f"198.51.100.{i}").status_code == 401
        locked = _login(attacker, "wrong-password", "198.51.100.200")
    assert locked.status_code == 429, locked.text
    assert locked.json()["code"] == "too_many_attempts"


def test_forwarded_for_cannot_lock_out_a_supervisor_elsewhere(served: tuple[VideoStation, str]) -> None:
    _, base_url = served
    # The supervisor's browser at 127.0.0.2 (another address of loopback, which uvicorn does not trust) and
    # the attacker at 127.0.0.1 naming that address in the header.
    supervisor = httpx.Client(base_url=base_url, timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with httpx.Client(base_url=base_url, timeout=60) as attacker, supervisor:
        for _ in range(6):
            assert _login(attacker, "wrong-password", "127.0.0.2").status_code in (401, 429)
        response = _login(supervisor, PASSWORD)
    assert response.status_code == 204, response.text
