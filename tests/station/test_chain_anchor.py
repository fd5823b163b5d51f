"""Deleting the newest events is detected: the chain head is recorded apart from the database, and the hub's
acknowledgements are a second witness (`station/store/anchor.py`, `station db check`)."""

import sqlite3
from pathlib import Path

import pytest

from station.alerts.ledger import active_alerts
from station.app import Station
from station.cli import main
from station.config import load_settings
from station.events import SYSTEM, NewEvent
from station.store import Store
from station.store.anchor import anchor_path


def _store_with_events(path: Path, n: int = 10) -> Store:
    store = Store.open(path)
    for i in range(n):
        with store.transaction() as tx:
            tx.append(NewEvent("test.event", SYSTEM, None, {"i": i}))
    return store


def _cut(path: Path, from_seq: int) -> None:
    """What someone with the file does to hide the last events: delete them (the chain before stays valid)."""
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM events WHERE seq >= ?", [from_seq])
    conn.commit()
    conn.close()


def test_a_cut_after_the_recorded_head_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    store.anchor_head()
    store.close()
    assert anchor_path(path).exists()
    _cut(path, 8)
    reopened = Store.open(path)
    assert reopened.head_problems() == ["the chain head recorded at seq 10 is past the last event here (7)"]
    reopened.close()


def test_a_replaced_last_event_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    store.anchor_head()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET hash = ? WHERE seq = 10", ["00" * 32])
    conn.commit()
    conn.close()
    reopened = Store.open(path)
    assert reopened.head_problems() == ["the event at seq 10 is not the one recorded as the chain head"]
    reopened.close()


def test_events_the_hub_acknowledged_cannot_vanish(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    store.mark_acked(10)
    store.close()  # no head recorded at all: the hub's watermark alone tells
    _cut(path, 9)
    reopened = Store.open(path)
    assert reopened.head_problems() == ["the hub acknowledged events up to seq 10, but the last event here is 8"]
    reopened.close()


def test_an_intact_or_new_database_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    assert store.head_problems() == []  # nothing recorded yet
    store.anchor_head()
    with store.transaction() as tx:
        tx.append(NewEvent("test.event", SYSTEM, None, {"i": "after"}))  # the stream grew past the record
    assert store.head_problems() == []
    store.close()


def test_db_check_fails_on_a_cut_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_DATA", str(tmp_path))
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    store.anchor_head()
    store.close()
    assert main(["db", "check"]) == 0
    assert "chain head: as recorded" in capsys.readouterr().out
    _cut(path, 6)
    assert main(["db", "check"]) == 1
    out = capsys.readouterr().out
    assert "hash chain: verified" in out  # what was left is a valid chain...
    assert "EVENTS MISSING AT THE END: the chain head recorded at seq 10 is past the last event here (5)" in out


def test_the_record_is_never_lowered_and_the_station_raises_an_alert(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path)
    store.anchor_head()
    store.close()
    _cut(path, 8)
    reopened = Store.open(path)
    reopened.anchor_head()  # housekeeping after the cut: the record of seq 10 stays
    assert reopened.head_problems() != []
    reopened.close()
    environ = {"STATION_DATA": str(tmp_path), "STATION_DEVICES__SCANNERS": "[]", "STATION_DEVICES__CONTROLLER": ""}
    station = Station.build(load_settings(None, environ=environ))
    try:
        alerts = [(a["alert"], a["data"].get("detail")) for a in active_alerts(station.store)]
        assert ("events_missing", "the chain head recorded at seq 10 is past the last event here (7)") in alerts
    finally:
        station.writer.shutdown()
        station.store.close()


def test_a_head_that_cannot_be_recorded_never_stops_the_station(tmp_path: Path) -> None:
    """A full disk or an unwritable record (here: a directory in its place) is logged; shutdown goes on."""
    path = tmp_path / "station.db"
    store = _store_with_events(path, 3)
    anchor_path(path).mkdir()
    store.anchor_head()  # no exception
    store.close()


def test_a_quiet_station_does_not_rewrite_its_record(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = _store_with_events(path, 3)
    store.anchor_head()
    first = anchor_path(path).stat().st_mtime_ns
    anchor_path(path).chmod(0o400)
    store.anchor_head()  # nothing new since: no write (a write would replace the file and its mode)
    assert anchor_path(path).stat().st_mtime_ns == first
    assert anchor_path(path).stat().st_mode & 0o777 == 0o400
    store.close()
