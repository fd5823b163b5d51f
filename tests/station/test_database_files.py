"""The database's files: an emptied `station.db` is refused, never silently started over (unless recovery is asked
for, which keeps it aside and raises the alert); the data directory is 0700 and the database files 0600 whatever
the umask, and looser modes found at start are tightened with a log line."""

import logging
import signal
import stat
from pathlib import Path

import pytest
from stationproc import clean_env, free_port, run_to_exit, station_running

from station.events import EventType
from station.store import Store
from station.store.database import LOCK_NAME, EmptyDatabaseError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _emptied(tmp_path: Path) -> Path:
    """A station's database with a token in it, then truncated to 0 bytes (a failed restore, a `> station.db`)."""
    data = tmp_path / "data"
    result = run_to_exit(["token", "create", "--role", "pda"], clean_env(STATION_DATA=str(data)))
    assert result.returncode == 0, result.stderr
    db = data / "station.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"")
    return data


def test_an_empty_database_is_refused_and_left_where_it_is(tmp_path: Path) -> None:
    data = _emptied(tmp_path)
    with pytest.raises(EmptyDatabaseError, match=r"is empty \(0 bytes\).*--recover-empty-db"):
        Store.open(data / "station.db")
    assert (data / "station.db").stat().st_size == 0
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("station.db")) == ["station.db"]


@pytest.mark.parametrize("argv", [["run", "--port", "{port}", "--data", "{data}"], ["token", "list"]])
def test_station_run_and_the_chores_refuse_an_empty_database_in_one_line(tmp_path: Path, argv: list[str]) -> None:
    data = _emptied(tmp_path)
    args = [a.format(port=free_port(), data=data) for a in argv]
    result = run_to_exit(args, clean_env(STATION_DATA=str(data)))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the database {data / 'station.db'} is empty (0 bytes)")
    assert result.stderr.count("\n") == 1
    assert (data / "station.db").stat().st_size == 0  # every later start refuses it too


def test_recover_empty_db_keeps_the_file_aside_starts_fresh_and_raises_the_alert(tmp_path: Path) -> None:
    data = _emptied(tmp_path)
    with station_running(data, free_port(), "--recover-empty-db") as proc:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    (kept,) = data.glob("station.db.corrupt-*")
    assert kept.stat().st_size == 0
    assert _mode(kept) == 0o600
    store = Store.open(data / "station.db")
    try:
        (event,) = store.events_from(1)
        assert event["type"] == EventType.ALERT_RAISED
        assert event["data"]["alert"] == "database_corrupt"
        assert event["data"]["moved_to"] == str(kept)
    finally:
        store.close()


def test_a_new_database_is_never_left_empty_nor_its_temporary_file_behind(tmp_path: Path) -> None:
    Store.open(tmp_path / "d" / "station.db").close()
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert names == ["station.db"]
    assert (tmp_path / "d" / "station.db").read_bytes().startswith(b"SQLite format 3\0")


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_data_directory_0700_and_database_files_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    data = tmp_path / "data"
    with station_running(data, free_port(), umask=umask) as proc:
        made = run_to_exit(["token", "create", "--role", "pda"], clean_env(STATION_DATA=str(data)), umask=umask)
        assert made.returncode == 0, made.stderr
        assert _mode(data) == 0o700
        for name in ("station.db", "station.db-wal", "station.db-shm", LOCK_NAME):
            assert _mode(data / name) == 0o600, name
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_looser_modes_found_at_start_are_tightened_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    db = data / "station.db"
    Store.open(db).close()
    data.chmod(0o755)
    db.chmod(0o644)
    Path(f"{db}-wal").write_bytes(b"")  # as an older station (or a copy) may have left it
    Path(f"{db}-wal").chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="station.store.database"):
        Store.open(db).close()
    assert _mode(data) == 0o700
    assert _mode(db) == 0o600
    said = caplog.text
    assert f"{data} had mode 0755; now 0700" in said
    assert f"{db} had mode 0644; now 0600" in said
    assert f"{db}-wal had mode 0666; now 0600" in said


def test_a_shared_directory_is_not_made_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: a station pointed there must not lock everybody else out of it
    with caplog.at_level(logging.WARNING, logger="station.store.database"):
        Store.open(shared / "station.db").close()
    assert _mode(shared) == 0o1777
    assert "shared directory" in caplog.text
    assert _mode(shared / "station.db") == 0o600
