"""The `station` command, verb by verb, end to end on a real data directory."""

import argparse
import io
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from benchkit import SAMPLE_ORDER

from station.auth import ApiRole, check_password, create_token, open_session
from station.cli import CLI_ACTOR, build_parser, main
from station.demo.runner import expected_refusals
from station.store import Store


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATION_DATA", str(tmp_path))
    monkeypatch.delenv("STATION_CONFIG", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_token_create_list_revoke(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "token", "create", "--role", "bench", "--bench", "B01")
    assert code == 0
    token_id = out.split("token id: ")[1].split()[0]
    secret = out.split("token:    ")[1].split()[0]
    assert secret.startswith("pst_")
    code, listing = run(capsys, "token", "list")
    assert token_id in listing
    assert "active" in listing
    assert secret not in listing
    assert run(capsys, "token", "revoke", token_id)[0] == 0
    assert "revoked" in run(capsys, "token", "list")[1]
    code, out = run(capsys, "token", "revoke", token_id)
    assert code == 2
    assert "no active token" in out


def test_token_expiry_is_shown_at_creation_and_in_the_list(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "token", "create", "--role", "pda", "--name", "pda-07", "--expires", "90d")
    assert code == 0
    assert "expires:  20" in out  # a local date and time
    code, out = run(capsys, "token", "create", "--role", "hub", "--expires", "2099-01-01T00:00+08:00")
    hub_id = out.split("token id: ")[1].split()[0]
    assert "expires:  2099-01-01 " in out or "expires:  2098-12-31 " in out  # the moment, in local time
    code, out = run(capsys, "token", "create", "--role", "supervisor", "--name", "forever")
    assert "expires:  never" in out
    store = Store.open(data / "station.db")  # a token already past its expiry, as only the store function can make
    try:
        old_id, _ = create_token(store, ApiRole.PDA, "pda-old", CLI_ACTOR, expires_at_ms=store.wall_ms() - 1)
    finally:
        store.close()
    listing = dict(line.split("  ", 1) for line in run(capsys, "token", "list")[1].splitlines())
    assert listing[old_id].split()[1:3] == ["expired", "expired"]  # the state, and "expired <when>"
    assert listing[hub_id].split()[1:3] == ["active", "expires"]
    assert "no expiry" in next(v for v in listing.values() if v.endswith("forever"))
    assert "expires" in next(v for v in listing.values() if v.endswith("pda-07"))


@pytest.mark.parametrize(("when", "says"), [("soon", "give days (90d)"), ("2001-01-01", "already passed")])
def test_a_bad_expiry_is_bad_usage(data: Path, capsys: pytest.CaptureFixture[str], when: str, says: str) -> None:
    code, out = run(capsys, "token", "create", "--role", "pda", "--expires", when)
    assert code == 2
    assert says in out
    assert "no tokens" in run(capsys, "token", "list")[1]


def test_user_disable_enable_delete_and_list(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("zhao", "qian"):
        monkeypatch.setattr(sys, "stdin", io.StringIO("a-good-password\n"))
        assert run(capsys, "user", "add", name, "--password-stdin")[0] == 0
    store = Store.open(data / "station.db")
    try:
        open_session(store, "zhao")
    finally:
        store.close()
    assert run(capsys, "user", "disable", "zhao") == (0, "user zhao disabled; 1 open session ended\n")
    assert run(capsys, "user", "disable", "zhao")[1] == "error: user zhao is already disabled\n"
    users = dict(line.split(maxsplit=1) for line in run(capsys, "user", "list")[1].splitlines())
    assert users["zhao"].startswith("disabled since 20")
    assert users["zhao"].endswith("sessions=0")
    assert users["qian"].split() == ["active", "sessions=0"]
    store = Store.open(data / "station.db")
    try:
        assert not check_password(store, "zhao", "a-good-password")
    finally:
        store.close()
    assert run(capsys, "user", "enable", "zhao")[0] == 0
    assert run(capsys, "user", "delete", "qian") == (0, "user qian deleted; 0 open sessions ended\n")
    assert run(capsys, "user", "delete", "qian") == (2, "error: no user qian\n")
    assert run(capsys, "user", "enable", "nobody") == (2, "error: no user nobody\n")
    assert run(capsys, "user", "list")[1].split() == ["zhao", "active", "sessions=0"]
    store = Store.open(data / "station.db")
    try:
        assert check_password(store, "zhao", "a-good-password")
        events = [(e["type"], e["data"]) for e in store.events_from(1) if e["type"].startswith("user.")]
    finally:
        store.close()
    assert events[2:] == [
        ("user.logged_in", {}),
        ("user.disabled", {"username": "zhao", "sessions_ended": 1}),
        ("user.enabled", {"username": "zhao"}),
        ("user.deleted", {"username": "qian", "sessions_ended": 0}),
    ]


def test_bench_token_needs_a_bench(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "token", "create", "--role", "bench")
    assert code == 2
    assert "--bench" in out


def test_user_add_and_passwd(data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-good-password\n"))
    assert run(capsys, "user", "add", "zhao", "--password-stdin")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, out = run(capsys, "user", "passwd", "zhao", "--password-stdin")
    assert code == 2
    assert "at least 8" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("another-good-one\n"))
    assert run(capsys, "user", "passwd", "zhao", "--password-stdin")[0] == 0


def test_operator_add(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "operator", "add", "OP-1001", "--name", "李四", "--role", "packer")
    assert code == 0
    assert "李四" in out


def test_orders_import_reports_each_line(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = dict(SAMPLE_ORDER, order_id="SO20260205-9999", lines=[])
    source = data / "orders.jsonl"
    source.write_text(
        "\n".join([json.dumps(SAMPLE_ORDER, ensure_ascii=False), "{not json", json.dumps(bad), json.dumps([1, 2])])
        + "\n",
        encoding="utf-8",
    )
    code, out = run(capsys, "orders", "import", str(source))
    assert code == 1
    assert "line 1: SO20260205-8821: created" in out
    assert "line 2: refused: not JSON" in out
    assert "line 3: SO20260205-9999: refused (invalid_order)" in out
    assert "lines: List should have at least 1 item" in out
    assert "line 4: refused: expected a JSON object" in out
    code, out = run(capsys, "orders", "import", str(source))
    assert "line 1: SO20260205-8821: duplicate" in out


def test_orders_dispute_flags_and_clears(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = data / "orders.jsonl"
    source.write_text(json.dumps(SAMPLE_ORDER, ensure_ascii=False) + "\n", encoding="utf-8")
    run(capsys, "orders", "import", str(source))
    order_id = SAMPLE_ORDER["order_id"]
    code, out = run(capsys, "orders", "dispute", order_id, "--reason", "工单 T-1 空箱")
    assert (code, "disputed" in out) == (0, True)
    assert run(capsys, "orders", "dispute", order_id, "--reason", "T-1 closed", "--clear")[0] == 0
    code, out = run(capsys, "orders", "dispute", "NOPE-1", "--reason", "x")
    assert (code, out.strip()) == (1, "NOPE-1: refused: order_not_found")
    store = Store.open(data / "station.db")
    try:
        kinds = [(e["type"], e["data"]["reason"]) for e in store.events_for_order(order_id) if "dispute" in e["type"]]
    finally:
        store.close()
    assert kinds == [("order.dispute_flagged", "工单 T-1 空箱"), ("order.dispute_cleared", "T-1 closed")]


def test_db_check_finds_tampering(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "operator", "add", "OP-1", "--name", "a", "--role", "packer")
    run(capsys, "operator", "add", "OP-2", "--name", "b", "--role", "packer")
    code, out = run(capsys, "db", "check")
    assert code == 0
    assert "hash chain: verified" in out
    assert "seq: gapless" in out
    store = Store.open(data / "station.db")
    store.conn.execute("UPDATE events SET data = '{}' WHERE seq = 1")
    store.close()
    code, out = run(capsys, "db", "check")
    assert code == 1
    assert "BROKEN at seq 1" in out


def test_config_example_and_bad_config(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "config", "example")
    assert code == 0
    assert out == (Path(__file__).resolve().parents[2] / "station.example.toml").read_text(encoding="utf-8")
    bad = data / "station.toml"
    bad.write_text("[workflow]\nidle_lok_s = 1\n")
    code, out = run(capsys, "config", "check", "-c", str(bad))
    assert code == 2
    assert "unknown key 'workflow.idle_lok_s'" in out


def test_demo_script_stops_every_planted_mistake(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "demo", "--no-serve", "--pace", "0")
    assert code == 0, out
    assert "every answer matched the script" in out
    expected = expected_refusals()
    assert expected.pop("bounce") == 1
    for reason, n in expected.items():
        assert f"{n} × {reason}" in out
    assert sum(expected.values()) == 9
    planted = ("wrong_item", "over_quantity", "order_cancelled", "gift_missing", "waybill_mismatch", "put_back_pending")
    for mistake in planted:
        assert mistake in expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_and_stops_cleanly_on_sigterm(data: Path) -> None:
    port = _free_port()
    env = dict(os.environ, STATION_DATA=str(data), STATION_API__PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            except urllib.error.HTTPError as err:
                status = err.code
            except OSError:
                time.sleep(0.2)
        assert status == 401  # up, and refusing a caller without credentials
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "station stopped" in out
    store = Store.open(data / "station.db")
    assert store.last_seq() >= 0
    store.close()


def test_doctor_reports_each_area(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, "doctor")
    assert code == 1
    assert "[!!] database   no database" in out
    run(capsys, "operator", "add", "OP-1", "--name", "a", "--role", "packer")
    monkeypatch.setenv("STATION_SYNC__BROKER", "127.0.0.1")
    monkeypatch.setenv("STATION_SYNC__PORT", str(_free_port()))  # nothing listens there
    monkeypatch.setenv("STATION_DEVICES__CONTROLLER", "/dev/serial/by-id/no-such-controller")
    code, out = run(capsys, "doctor")
    assert code == 1
    assert "[ok] database" in out
    assert "quick_check ok" in out
    assert "1 not yet acknowledged by the hub" in out
    assert "[!!] controller /dev/serial/by-id/no-such-controller: no such device" in out
    assert "NOT reachable" in out
    assert "events wait in the outbox" in out


def test_doctor_reports_a_corrupt_database_and_leaves_it_in_place(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Looking is not touching: the service recovers a corrupt file at start, the doctor only says so."""
    run(capsys, "operator", "add", "OP-1", "--name", "a", "--role", "packer")
    damaged = b"this is not a database at all" * 200
    (data / "station.db").write_bytes(damaged)
    code, out = run(capsys, "doctor")
    assert code == 1
    assert "[!!] database   quick_check FAILED" in out
    assert (data / "station.db").read_bytes() == damaged
    assert not [p for p in data.iterdir() if "corrupt" in p.name]


def test_a_data_directory_that_cannot_be_made_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("STATION_DATA", str(tmp_path / "file" / "data"))
    code, out = run(capsys, "operator", "add", "OP-1", "--name", "a", "--role", "packer")
    assert code == 1
    assert out.startswith("error: cannot create the data directory")
    assert "Traceback" not in out


def _post_scan(port: int, token: str, code: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/benches/B01/scans",
        data=json.dumps({"code": code}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _wait_until_up(port: int, headers: dict[str, str] | None = None, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/health", headers=headers or {})
            with urllib.request.urlopen(request, timeout=1) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port}")


def test_sigterm_during_a_burst_of_scans_keeps_every_answered_scan(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "token", "create", "--role", "bench", "--bench", "B01")
    assert code == 0
    token = out.split("token:    ")[1].split()[0]
    port = _free_port()
    env = dict(os.environ, STATION_DATA=str(data), STATION_API__PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    answered: list[tuple[str, dict[str, object]]] = []  # (code, answer) for every scan that got a 200
    after_sigterm: list[str] = []
    failures: list[BaseException] = []
    signalled = threading.Event()
    lock = threading.Lock()

    def packer(n: int) -> None:
        for i in range(10_000):
            scanned = f"BURST-{n}-{i}"
            try:
                status, body = _post_scan(port, token, scanned)
            except OSError as err:  # refused or cut off once the server stops: fine, if it never said 200
                if signalled.is_set():
                    return
                failures.append(err)
                return
            with lock:
                if status == 200:
                    answered.append((scanned, body))
                if signalled.is_set():
                    after_sigterm.append(scanned)

    try:
        assert _wait_until_up(port) == 401
        packers = [threading.Thread(target=packer, args=(n,)) for n in range(8)]
        for thread in packers:
            thread.start()
        deadline = time.monotonic() + 30
        while len(answered) < 40 and time.monotonic() < deadline and not failures:
            time.sleep(0.01)
        assert len(answered) >= 40, failures
        proc.send_signal(signal.SIGTERM)  # eight packers are still posting
        signalled.set()
        out, _ = proc.communicate(timeout=30)
        for thread in packers:
            thread.join(timeout=30)
    finally:
        signalled.set()
        if proc.poll() is None:
            proc.kill()
    assert not failures, failures
    assert after_sigterm, "no scan was in flight when SIGTERM came"
    assert proc.returncode == 0, out
    assert "station stopped" in out
    store = Store.open(data / "station.db")
    try:
        for scanned, body in answered:
            assert isinstance(body["seq"], int), body
            events = store.events_from(body["seq"], 1)
            assert events, f"{scanned} was answered 200 with seq {body['seq']}, but that event is missing"
            assert events[0]["type"] == "scan.rejected"
            assert events[0]["data"]["code"] == scanned
    finally:
        store.close()
    code, report = run(capsys, "db", "check")
    assert code == 0, report
    assert "hash chain: verified" in report
    assert "seq: gapless" in report


def _demo(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "station.cli", "demo", "--pace", "0", *argv],
        env=dict(env, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )


def test_demo_serves_the_api_with_the_tokens_it_prints(data: Path) -> None:
    port = _free_port()
    proc = _demo(dict(os.environ, STATION_DATA=str(data), STATION_API__PORT=str(port)))
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("supervisor token:" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
        token = next(line for line in seen if "supervisor token:" in line).split()[-1]
        assert token.startswith("pst_")
        assert f"http://127.0.0.1:{port}/docs" in "".join(seen)
        assert _wait_until_up(port, {"Authorization": f"Bearer {token}"}) == 200
        pda = next(line for line in seen if "PDA token:" in line).split()[-1]
        assert _wait_until_up(port, {"Authorization": f"Bearer {pda}"}) == 403  # health is not for PDAs
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()
    while not lines.empty():
        seen.append(lines.get())
    out = "".join(seen)
    assert "every answer matched the script" in out
    assert " INFO station." not in out, out  # the narration is not interleaved with log lines


def test_demo_shows_station_log_lines_only_with_verbose(data: Path) -> None:
    env = dict(os.environ, STATION_DATA=str(data))
    quiet = _demo(env, "--no-serve").communicate(timeout=60)[0]
    loud = _demo(env, "--no-serve", "-v").communicate(timeout=60)[0]
    assert "every answer matched the script" in quiet
    assert " station.workflow.bench: bounce ignored" not in quiet
    assert " station.store.store: database " not in quiet
    assert " INFO station.workflow.bench: bounce ignored" in loud
    assert " INFO station.store.store: database " in loud


def _all_actions(parser: argparse.ArgumentParser, where: str = "station") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:  # argparse has no public way to walk a parser
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _all_actions(sub, f"{where} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((where, action))
    return found


def test_every_cli_argument_has_help() -> None:
    missing = [f"{where}: {action.dest}" for where, action in _all_actions(build_parser()) if not action.help]
    assert missing == []
