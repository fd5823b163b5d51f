"""One station process per data directory: a second `station run` or `station demo` is refused at once, in one
line naming the first one's PID (exit 4), before it opens anything; the CLI's chores still run beside a station;
a SIGKILLed station leaves no stale lock."""

import os
import signal
from pathlib import Path

import pytest
from stationproc import clean_env, free_port, run_to_exit, station_log, station_running

from station import cli
from station.store.database import LOCK_NAME, DataDirInUseError, exclusive_data_dir

IN_USE = "station: data directory {data} is in use by station pid {pid} (stop it first, or use --data)\n"


def test_a_second_run_on_the_same_data_directory_names_the_first_and_starts_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    with station_running(data, port) as first:
        before = sorted(p.name for p in data.iterdir())
        # The same port too, as a second start of the same configuration would be: the data directory is said.
        for second_port in (port, free_port()):
            result = run_to_exit(["run", "--port", str(second_port), "--data", str(data), "-v"], clean_env())
            assert result.returncode == cli.EXIT_DATA_IN_USE == 4, result.stderr
            assert result.stderr == IN_USE.format(data=data, pid=first.pid)
            assert result.stdout == ""
        assert sorted(p.name for p in data.iterdir()) == before  # nothing made, moved or deleted
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    assert "serving the API" in station_log(data)


def test_cli_chores_still_write_beside_a_running_station(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with station_running(data, free_port()):
        env = clean_env(STATION_DATA=str(data))
        made = run_to_exit(["token", "create", "--role", "pda", "--name", "pda-07"], env)
        assert made.returncode == 0, made.stderr
        listed = run_to_exit(["token", "list"], env)
        assert "pda-07" in listed.stdout
        badge = run_to_exit(["operator", "add", "OP-1001", "--name", "Li", "--role", "packer"], env)
        assert badge.returncode == 0, badge.stderr


def test_a_sigkilled_station_leaves_no_stale_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with station_running(data, free_port()) as killed:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    assert (data / LOCK_NAME).read_text().strip() == str(killed.pid)  # the file stays; the lock went with it
    with station_running(data, free_port()) as second:
        assert (data / LOCK_NAME).read_text().strip() == str(second.pid)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0


def test_the_lock_is_exclusive_and_released_on_exit(tmp_path: Path) -> None:
    with exclusive_data_dir(tmp_path / "d"):
        # flock belongs to the open file: a second open, even in this process, is refused like another station.
        with pytest.raises(DataDirInUseError) as refused, exclusive_data_dir(tmp_path / "d"):
            pass
        assert refused.value.pid == os.getpid()
        assert str(refused.value) == IN_USE.format(data=tmp_path / "d", pid=os.getpid()).removeprefix("station: ")[:-1]
    with exclusive_data_dir(tmp_path / "d"):
        pass


def test_a_second_demo_is_refused_before_it_deletes_the_running_demos_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "station.db").write_bytes(b"the running demo's database")
    with exclusive_data_dir(demo):  # the running demo
        code = cli.main(["demo", "--no-serve", "--pace", "0", "--data", str(tmp_path)])
    out = capsys.readouterr()
    assert code == cli.EXIT_DATA_IN_USE
    assert out.err == IN_USE.format(data=demo, pid=os.getpid())
    assert out.out == ""
    assert (demo / "station.db").read_bytes() == b"the running demo's database"


def test_a_demo_keeps_its_lock_file_while_it_clears_the_previous_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--no-serve", "--pace", "0", "--data", str(tmp_path)]) == 0
    lock = tmp_path / "demo" / LOCK_NAME
    inode = lock.stat().st_ino
    assert cli.main(["demo", "--no-serve", "--pace", "0", "--data", str(tmp_path)]) == 0
    assert lock.stat().st_ino == inode  # the same file: deleting it would let two demos each lock "their" file
    capsys.readouterr()


def test_help_tells_the_exit_status_of_a_data_directory_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("run", "demo"):
        with pytest.raises(SystemExit):
            cli.main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "4: the data directory is in use by another station process" in text
