"""`station run` / `station demo`: --host, --port and --data over the environment over the file, bad values refused
in one line, and a taken port said in one line before anything else is printed or opened."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import cli
from station.config import Settings

TAKEN = "station: cannot listen on 127.0.0.1:{port}: address already in use (another station running? use --port)"


def _station() -> list[str]:
    """The installed `station` console script (what a user runs); `python -m station.cli` if it is not there."""
    script = Path(sys.executable).with_name("station")
    return [str(script)] if script.exists() else [sys.executable, "-m", "station.cli"]


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any STATION_ variable of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    return dict(env, PYTHONUNBUFFERED="1", **extra)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process is listening on (this test holds it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """`station run` and `station demo` in-process, stopped at the door: the settings they would have used."""
    seen: list[Settings] = []

    def fake_run(settings: Settings, _: argparse.Namespace) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr(cli, "cmd_run", fake_run)
    monkeypatch.setattr(cli, "cmd_demo", fake_run)
    for name in [n for n in os.environ if n.startswith("STATION_")]:
        monkeypatch.delenv(name)
    return seen


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(f"[api]\nhost = '127.0.0.3'\nport = 7003\n[station]\ndata_dir = '{tmp_path / 'file-data'}'\n")
    return path


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), ("127.0.0.1", 8080, "station-data")),
        (("file",), ("127.0.0.3", 7003, "file-data")),
        (("file", "env"), ("127.0.0.2", 7002, "env-data")),
        (("file", "env", "flag"), ("127.0.0.1", 7001, "flag-data")),
        (("env", "flag"), ("127.0.0.1", 7001, "flag-data")),
        (("file", "flag"), ("127.0.0.1", 7001, "flag-data")),
    ],
)
def test_flag_beats_environment_beats_config_file_beats_default(
    layers: tuple[str, ...],
    expected: tuple[str, int, str],
    tmp_path: Path,
    started: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["run"]
    if "file" in layers:
        argv += ["-c", str(_config(tmp_path))]
    if "env" in layers:
        monkeypatch.setenv("STATION_API__HOST", "127.0.0.2")
        monkeypatch.setenv("STATION_API__PORT", "7002")
        monkeypatch.setenv("STATION_DATA", str(tmp_path / "env-data"))
    if "flag" in layers:
        argv += ["--host", "127.0.0.1", "--port", "7001", "--data", str(tmp_path / "flag-data")]
    assert cli.main(argv) == 0
    (settings,) = started
    host, port, data = expected
    assert (settings.api.host, settings.api.port, settings.station.data_dir.name) == (host, port, data)


def test_one_flag_leaves_the_other_keys_of_its_section(
    tmp_path: Path, started: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_STATION__SITE", "WH7")
    assert cli.main(["run", "-c", str(_config(tmp_path)), "--port", "7001"]) == 0
    (settings,) = started
    assert (settings.api.host, settings.api.port, settings.station.site) == ("127.0.0.3", 7001, "WH7")
    assert settings.station.data_dir == tmp_path / "file-data"


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--port", "0", "station: --port 0: out of range (use 1-65535)"),
        ("--port", "65536", "station: --port 65536: out of range (use 1-65535)"),
        ("--port", "http", "station: --port 'http': not a number (use 1-65535)"),
        ("--host", "999.1.1.1", "station: --host '999.1.1.1': not an IP address nor a name this machine resolves"),
        ("--host", "", "station: --host '': empty"),
        ("--data", "{file}/data", "station: --data {file}/data: cannot create it: Not a directory"),
        ("--data", "{file}", "station: --data {file}: not a directory"),
    ],
)
@pytest.mark.parametrize("verb", ["run", "demo"])
def test_a_bad_flag_is_refused_in_one_line_before_anything_starts(
    verb: str,
    flag: str,
    value: str,
    says: str,
    tmp_path: Path,
    started: list[Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file").write_text("")
    file = str(tmp_path / "file")
    code = cli.main([verb, flag, value.format(file=file)])
    out = capsys.readouterr()
    assert code == cli.EXIT_BAD_USAGE
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert out.err.startswith(says.format(file=file)), out.err
    assert started == []


def test_a_data_directory_that_cannot_be_written_is_refused(
    tmp_path: Path, started: list[Settings], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:  # root writes into any directory: refuse the write as a read-only mount would

        def refuse(**_: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(cli.tempfile, "TemporaryFile", refuse)
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o500)
    try:
        code = cli.main(["run", "--data", str(read_only)])
    finally:
        read_only.chmod(0o700)
    assert code == cli.EXIT_BAD_USAGE
    assert capsys.readouterr().err == f"station: --data {read_only}: cannot write in it: Permission denied\n"
    assert started == []


def test_help_tells_the_precedence_and_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("run", "demo"):
        with pytest.raises(SystemExit):
            cli.main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "command-line flag > environment variable > config file (-c) > built-in default" in text
        assert "3: the address cannot be listened on" in text
        for flag in ("--host HOST", "--port PORT", "--data DIR"):
            assert flag in text


def _wait_for_health(port: int, proc: subprocess.Popen[str], timeout_s: float = 60) -> int:
    """The status of GET /api/v1/health once the station answers (401: up, and asking for credentials)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the station exited before it answered"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port}")


def test_run_serves_on_the_flag_port_with_its_database_in_the_flag_directory(tmp_path: Path) -> None:
    port, env_port = _free_port(), _free_port()
    config = _config(tmp_path)  # 127.0.0.3:7003, data in file-data: all lose to the flags, as does the environment
    env = _clean_env(STATION_API__PORT=str(env_port), STATION_DATA=str(tmp_path / "env-data"))
    data = tmp_path / "flag-data"
    proc = subprocess.Popen(
        [*_station(), "run", "-c", str(config), "--host", "127.0.0.1", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _wait_for_health(port, proc) == 401
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert f"serving the API on http://127.0.0.1:{port} " in out
    assert (data / "station.db").exists()
    assert not (tmp_path / "env-data").exists()
    assert not (tmp_path / "file-data").exists()


def _run_to_exit(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_station(), *argv], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_on_a_taken_port_says_so_in_one_line_and_opens_nothing(how: str, taken_port: int, tmp_path: Path) -> None:
    data = tmp_path / "data"
    if how == "flag":
        result = _run_to_exit(["run", "--port", str(taken_port), "--data", str(data)], _clean_env())
    else:
        result = _run_to_exit(["run"], _clean_env(STATION_API__PORT=str(taken_port), STATION_DATA=str(data)))
    assert result.returncode == cli.EXIT_CANNOT_LISTEN, result.stdout + result.stderr
    assert result.stderr == TAKEN.format(port=taken_port) + "\n"
    assert result.stdout == ""
    assert not (data / "station.db").exists()  # the database was never opened


def test_demo_on_a_taken_port_says_so_before_the_banner_or_any_token(taken_port: int, tmp_path: Path) -> None:
    previous = tmp_path / "demo" / "station.db"  # another demo's, perhaps still serving: left alone
    previous.parent.mkdir()
    previous.write_bytes(b"another demo's database")
    result = _run_to_exit(["demo", "--pace", "0", "--port", str(taken_port), "--data", str(tmp_path)], _clean_env())
    assert result.returncode == cli.EXIT_CANNOT_LISTEN, result.stdout + result.stderr
    assert result.stderr == TAKEN.format(port=taken_port) + "\n"
    assert result.stdout == ""  # no banner, no narration, no address, no token
    assert previous.read_bytes() == b"another demo's database"
