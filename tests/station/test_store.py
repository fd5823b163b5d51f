"""The store: durability pragmas, migrations, epochs, corruption recovery, gapless seq and the hash chain."""

import sqlite3
from pathlib import Path

import pytest
from benchkit import HUB, order_doc

from cloud_sync.chain import event_hash
from station.alerts.ledger import active_alerts, clear_alert, raise_alert
from station.auth import (
    ApiRole,
    add_user,
    check_password,
    create_token,
    disable_user,
    list_tokens,
    list_users,
    open_session,
    verify_session,
    verify_token,
)
from station.events import SYSTEM, EventType, NewEvent, verify_chain
from station.orders.intake import intake_order
from station.orders.model import Bench, Order, OrderNumber, Status
from station.store import Store, StoreError, database
from station.store.migrations import MIGRATIONS
from station.store.repository import ORDER_CACHE_SIZE

# The print queue's table of its active alerts, as migration 4 made it (migration 10 drops it): for taking a
# database back to a schema before 10.
_PRINT_ALERTS_TABLE = (
    "CREATE TABLE print_alerts (alert TEXT NOT NULL, subject TEXT NOT NULL, order_id TEXT, "
    "raised_seq INTEGER NOT NULL, PRIMARY KEY (alert, subject));"
)
# Undoes migration 13 (token expiry, when a user was disabled), so that a test can put a file back to schema 12.
_WITHOUT_ACCOUNTS = "ALTER TABLE api_tokens DROP COLUMN expires_at_ms; ALTER TABLE users DROP COLUMN disabled_at_ms;"
# Undoes migrations 11 (the order-number indexes), 12 (put-backs, label voids) and 13, so that a test can put a
# file back to an older schema.
_WITHOUT_ORDER_NUMBERS = (
    "DROP TABLE put_backs; DROP TABLE label_voids;"
    "DROP INDEX orders_by_channel_order_no; DROP INDEX order_lines_by_sku; DROP INDEX verified_units_by_unit;"
    "ALTER TABLE orders DROP COLUMN channel_order_no;" + _WITHOUT_ACCOUNTS
)


def _append(store: Store, n: int) -> list[int]:
    seqs = []
    for i in range(n):
        with store.transaction() as tx:
            seqs.append(tx.append(NewEvent("test.event", SYSTEM, None, {"i": i}))["seq"])
    return seqs


def test_pragmas_are_the_durable_ones(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_epoch_and_seq_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store.open(path, boot_id="b1")
    epoch = first.stream_epoch
    assert _append(first, 3) == [1, 2, 3]
    first.close()
    second = Store.open(path, boot_id="b2")
    assert second.stream_epoch == epoch
    assert _append(second, 2) == [4, 5]
    report = verify_chain(second.events_from(1), epoch)
    assert report.ok, report
    assert report.events == 5
    second.close()


def test_rolled_back_transaction_leaves_no_gap(store: Store) -> None:
    _append(store, 2)

    def failing_transaction() -> None:
        with store.transaction() as tx:
            tx.append(NewEvent("test.event", SYSTEM))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_transaction()
    assert _append(store, 1) == [3]
    assert verify_chain(store.events_from(1), store.stream_epoch).ok


def test_tampering_is_detected(store: Store) -> None:
    _append(store, 5)
    store.conn.execute("UPDATE events SET data = ? WHERE seq = 3", ['{"i": 99}'])
    report = verify_chain(store.events_from(1), store.stream_epoch)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.problem == "hash_mismatch"


def test_deleted_event_is_a_gap(store: Store) -> None:
    _append(store, 5)
    store.conn.execute("DELETE FROM events WHERE seq = 2")
    report = verify_chain(store.events_from(1), store.stream_epoch)
    assert not report.ok
    assert report.gaps == ((2, 2),)


def test_recomputed_hash_still_breaks_the_link(store: Store) -> None:
    """An attacker who rewrites an event and its own hash still breaks the next event's link."""
    _append(store, 4)
    env = store.events_from(2, 1)[0]
    env["data"] = {"i": 42}
    forged = event_hash(env)
    store.conn.execute("UPDATE events SET data = ?, hash = ? WHERE seq = 2", ['{"i": 42}', forged])
    report = verify_chain(store.events_from(1), store.stream_epoch)
    assert report.first_bad_seq == 3
    assert report.problem == "broken_link"


@pytest.mark.parametrize("damage", ["garbage", "truncated_page"])
def test_corrupt_database_is_moved_aside_and_alerted(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "station.db"
    store = Store.open(path)
    _append(store, 50)
    old_epoch = store.stream_epoch
    store.close()
    raw = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 200)
    else:
        # Keep the header, scribble over the b-tree pages.
        path.write_bytes(raw[:100] + b"\xff" * (len(raw) - 100))
    recovered = Store.open(path)
    assert recovered.recovered is not None
    assert recovered.recovered.moved_to.exists()
    assert recovered.recovered.moved_to.name.startswith("station.db.corrupt-")
    assert recovered.stream_epoch != old_epoch
    events = recovered.events_from(1)
    assert [e["type"] for e in events] == [EventType.ALERT_RAISED]
    assert events[0]["data"]["alert"] == "database_corrupt"
    assert verify_chain(events, recovered.stream_epoch).ok
    recovered.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this software"):
        Store.open(path)


def test_a_locked_database_is_left_alone_and_the_open_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program holding the file (a sqlite3 shell, a backup tool) is not corruption: nothing is moved."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "station.db"
    store = Store.open(path)
    _append(store, 3)
    epoch = store.stream_epoch
    store.close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # holds the file until this connection closes
    other.execute("COMMIT")
    with pytest.raises(StoreError, match=r"database is locked.*nothing was moved"):
        Store.open(path)
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []
    other.close()
    reopened = Store.open(path)
    assert reopened.recovered is None
    assert reopened.stream_epoch == epoch
    assert reopened.last_seq() == 3
    reopened.close()


def test_a_data_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        Store.open(blocker / "station.db")


def test_ack_moves_the_backlog(store: Store) -> None:
    _append(store, 10)
    assert store.backlog() == 10
    assert store.mark_acked(6) == 6
    assert [e["seq"] for e in store.unacked()] == [7, 8, 9, 10]
    assert store.mark_acked(6) == 0  # idempotent
    assert store.mark_acked(3) == 0  # an older ack never moves the watermark back
    assert store.backlog() == 4
    assert store.mark_acked(99) == 4  # an ack past the stream's head covers only what exists
    assert store.unacked() == []
    assert store.backlog() == 0
    _append(store, 2)
    assert [e["seq"] for e in store.unacked()] == [11, 12]
    assert store.backlog() == 2


def test_ack_watermark_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    first = Store.open(path)
    _append(first, 5)
    first.mark_acked(3)
    first.close()
    second = Store.open(path)
    assert [e["seq"] for e in second.unacked()] == [4, 5]
    second.close()


def test_schema_7_outbox_flags_become_the_watermark(tmp_path: Path) -> None:
    """Upgrading keeps what the hub acknowledged: the first unacked row sets the watermark."""
    path = tmp_path / "station.db"
    store = Store.open(path)
    _append(store, 6)
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    # Back to schema 7 as it was: the per-row flag and its two indexes; seq 1..4 acked.
    conn.executescript(
        "DELETE FROM meta WHERE key = 'outbox.acked_through';"
        "DROP TABLE alerts_active;"
        f"{_PRINT_ALERTS_TABLE}{_WITHOUT_ORDER_NUMBERS}"
        "ALTER TABLE events ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX events_unacked ON events(seq) WHERE acked = 0;"
        "CREATE INDEX events_by_time ON events(at_ms);"
        "UPDATE events SET acked = 1 WHERE seq <= 4;"
        "PRAGMA user_version = 7;"
    )
    conn.close()
    upgraded = Store.open(path)
    assert [e["seq"] for e in upgraded.unacked()] == [5, 6]
    columns = {r[1] for r in upgraded.conn.execute("PRAGMA table_info(events)")}
    indexes = {r[1] for r in upgraded.conn.execute("PRAGMA index_list(events)")}
    assert "acked" not in columns
    assert indexes == {"events_by_order"}
    assert verify_chain(upgraded.events_from(1), upgraded.stream_epoch).ok
    upgraded.close()


def test_first_seq_since_finds_the_window_start(tmp_path: Path) -> None:
    wall = [1_800_000_000_000]
    store = Store.open(tmp_path / "station.db", wall_ms=lambda: wall[0])
    with store.reading() as repo:
        assert repo.first_seq_since(0) == 1  # an empty stream
    times = {_append(store, 1)[0]: wall[0]}
    for step in (5, 0, 0, 7, 1000, 0):  # equal wall readings too (the HLC counter then moves)
        wall[0] += step
        times[_append(store, 1)[0]] = wall[0]
    with store.reading() as repo:
        for at in times.values():
            assert repo.first_seq_since(at) == min(s for s, t in times.items() if t >= at)
        assert repo.first_seq_since(wall[0] + 1) == max(times) + 1
        assert repo.first_seq_since(0) == 1
    store.close()


def test_another_writer_process_does_not_leave_the_caches_stale(tmp_path: Path) -> None:
    """A CLI command writing to the same file must not make the service reuse a seq or an old order."""
    path = tmp_path / "station.db"
    service, cli = Store.open(path), Store.open(path)
    intake_order(service, order_doc(), HUB)
    with service.transaction() as tx:  # warm the service's caches
        assert tx.repo.order("SO20260205-8821") is not None
    intake_order(cli, order_doc(version=7, notes="from the CLI"), HUB)
    expected_seq = cli.last_seq() + 1
    with service.transaction() as tx:
        order = tx.repo.order("SO20260205-8821")
        assert order is not None
        assert order.hub_version == 7
        seq = tx.append(NewEvent("test.event", SYSTEM))["seq"]
    assert seq == expected_seq
    assert verify_chain(service.events_from(1), service.stream_epoch).ok
    service.close()
    cli.close()


def test_the_writers_cached_bench_follows_another_writer(tmp_path: Path) -> None:
    """The scan path reads its bench from the writer's cache: a CLI's change must show through."""
    path = tmp_path / "station.db"
    service, cli = Store.open(path), Store.open(path)
    with service.transaction() as tx:
        tx.repo.save_bench(Bench("B01", operator_badge="OP-001", order_id="SO20260205-8821"))
    with service.transaction() as tx:  # warm
        assert tx.repo.bench("B01").order_id == "SO20260205-8821"
    with cli.transaction() as tx:
        tx.repo.save_bench(Bench("B01", operator_badge="OP-002"))
    with service.transaction() as tx:
        bench = tx.repo.bench("B01")
        assert (bench.operator_badge, bench.order_id) == ("OP-002", None)
        bench.operator_badge = "OP-003"  # a changed copy that is never saved stays out of the cache
    with service.transaction() as tx:
        assert tx.repo.bench("B01").operator_badge == "OP-002"

    def save_then_fail() -> None:
        with service.transaction() as tx:
            tx.repo.save_bench(Bench("B01", operator_badge="OP-004"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        save_then_fail()
    with service.transaction() as tx:
        assert tx.repo.bench("B01").operator_badge == "OP-002"
    service.close()
    cli.close()


def test_event_time_stays_ordered_when_another_writer_ran_ahead(tmp_path: Path) -> None:
    """A CLI whose wall clock is ahead writes an event: the service's next event is not earlier than it."""
    path = tmp_path / "station.db"
    service_wall, cli_wall = [1_800_000_000_000], [1_800_000_060_000]
    service = Store.open(path, wall_ms=lambda: service_wall[0])
    _append(service, 1)
    cli = Store.open(path, wall_ms=lambda: cli_wall[0])
    _append(cli, 1)
    _append(service, 1)
    ats = [(e["at"]["ms"], e["at"]["counter"]) for e in service.events_from(1)]
    assert ats == sorted(ats)
    assert ats[2] > ats[1]
    service.close()
    cli.close()


def test_clock_resumes_after_the_last_event_when_the_wall_clock_went_back(tmp_path: Path) -> None:
    """The event row is the persisted clock: a reboot without RTC (wall clock behind) never issues an earlier `at`."""
    path = tmp_path / "station.db"
    wall = [1_800_000_000_000]
    first = Store.open(path, wall_ms=lambda: wall[0], boot_id="b1")
    _append(first, 3)
    last_at = first.events_from(3, 1)[0]["at"]
    first.close()
    wall[0] -= 3_600_000
    second = Store.open(path, wall_ms=lambda: wall[0], boot_id="b2")
    _append(second, 1)
    at = second.events_from(4, 1)[0]["at"]
    assert (at["ms"], at["counter"]) > (last_at["ms"], last_at["counter"])
    second.close()


def test_checkpoint_copies_the_wal_and_lets_it_start_over(store: Store) -> None:
    """Housekeeping's checkpoint empties the WAL without the writer's help; the writer only has a backstop."""
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] >= 1000
    _append(store, 20)
    result = store.checkpoint()
    assert result is not None
    wal_pages, copied = result
    assert wal_pages > 0
    assert copied == wal_pages
    _append(store, 1)  # the writer restarts the WAL from its beginning
    again = store.checkpoint()
    assert again is not None
    assert 0 < again[0] < wal_pages
    assert verify_chain(store.events_from(1), store.stream_epoch).ok


def test_checkpoint_after_close_does_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "station.db")
    _append(store, 1)
    assert store.checkpoint() is not None
    store.close()
    assert store.checkpoint() is None


def test_order_cache_is_bounded(store: Store) -> None:
    for n in range(ORDER_CACHE_SIZE + 10):
        assert intake_order(store, order_doc(order_id=f"SO20260205-{n:04d}"), HUB).ok
    with store.transaction() as tx:
        for n in range(ORDER_CACHE_SIZE + 10):
            assert tx.repo.order(f"SO20260205-{n:04d}") is not None
        assert tx.repo.order("SO20260205-0000") is not None  # evicted earlier, read again
    assert len(store.cache.orders) == ORDER_CACHE_SIZE
    assert "SO20260205-0000" in store.cache.orders
    assert "SO20260205-0001" not in store.cache.orders


def test_active_alerts_follow_their_events_and_survive_the_schema_9_replay(tmp_path: Path) -> None:
    """The table of active alerts changes with the alert events; upgrading builds it from the event log."""
    path = tmp_path / "station.db"
    store = Store.open(path)
    script = [
        (EventType.ALERT_RAISED, "device_down", "printer"),
        (EventType.ALERT_RAISED, "queue_backlog", None),
        (EventType.ALERT_CLEARED, "device_down", "printer"),
        (EventType.ALERT_RAISED, "sla_breach", "SO-1"),
        (EventType.ALERT_RAISED, "device_down", "printer"),  # raised again after its clear
        (EventType.ALERT_RAISED, "device_down", "camera"),
        (EventType.ALERT_CLEARED, "device_down", "camera"),
    ]
    for kind, alert, subject in script:
        with store.transaction() as tx:
            tx.append(NewEvent(kind, SYSTEM, None, {"alert": alert, "subject": subject}))
    expected = [("device_down", "printer", 5), ("sla_breach", "SO-1", 4), ("queue_backlog", "", 2)]
    assert [(a["alert"], a["subject"], a["seq"]) for a in active_alerts(store)] == expected
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        f"DROP TABLE alerts_active; {_PRINT_ALERTS_TABLE}{_WITHOUT_ORDER_NUMBERS} PRAGMA user_version = 8;"
    )
    conn.close()
    upgraded = Store.open(path)
    assert [(a["alert"], a["subject"], a["seq"]) for a in active_alerts(upgraded)] == expected
    upgraded.close()


def test_schema_10_keeps_the_print_queues_active_alerts_in_the_one_table(tmp_path: Path) -> None:
    """Upgrading drops the print queue's own alert table and loses none of the alerts it still has to clear;
    each keeps the order its raise was about, and one cleared in the event log stays cleared."""
    path = tmp_path / "station.db"
    store = Store.open(path)
    with store.transaction() as tx:  # seq 1..4
        raise_alert(tx, "label_unknown", "job-1", SYSTEM, "SO-1", job_id="job-1")
        raise_alert(tx, "label_failed", "job-2", SYSTEM, "SO-2", job_id="job-2")
        raise_alert(tx, "device_down", "printer", SYSTEM, device="printer")
        clear_alert(tx, "device_down", "printer", SYSTEM)  # cleared by another part; the queue still held it
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    # Back to schema 9 as it was, the print queue's copy beside the one table; job-2's row lost from the one
    # table (as if it had drifted), though no event cleared it.
    conn.executescript(
        f"{_PRINT_ALERTS_TABLE}"
        "INSERT INTO print_alerts VALUES ('label_unknown', 'job-1', 'SO-1', 1), ('label_failed', 'job-2', 'SO-2', 2),"
        " ('device_down', 'printer', NULL, 3);"
        "DELETE FROM alerts_active WHERE subject = 'job-2';"
        f"{_WITHOUT_ORDER_NUMBERS}"
        "PRAGMA user_version = 9;"
    )
    conn.close()
    upgraded = Store.open(path)
    tables = {r[0] for r in upgraded.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "print_alerts" not in tables
    active = [(a["alert"], a["subject"], a["seq"], a["order_id"]) for a in active_alerts(upgraded)]
    assert active == [("label_failed", "job-2", 2, "SO-2"), ("label_unknown", "job-1", 1, "SO-1")]
    with upgraded.transaction() as tx:
        assert clear_alert(tx, "label_failed", "job-2", SYSTEM, settled_by="job-3")
        assert not clear_alert(tx, "device_down", "printer", SYSTEM)
    cleared = upgraded.events_from(5)
    assert [(e["type"], e["order_id"], e["data"]) for e in cleared] == [
        (EventType.ALERT_CLEARED, "SO-2", {"alert": "label_failed", "subject": "job-2", "settled_by": "job-3"})
    ]
    assert verify_chain(upgraded.events_from(1), upgraded.stream_epoch).ok
    upgraded.close()


def test_schema_10_orders_get_their_channel_order_number(tmp_path: Path) -> None:
    """Upgrading fills the channel order number of orders already stored from their documents."""
    path = tmp_path / "station.db"
    store = Store.open(path)
    for order_id, doc in (("SO-1", {"channel_order_no": "TB-1"}), ("SO-2", {}), ("SO-3", {"channel_order_no": 7})):
        with store.transaction() as tx:
            tx.repo.insert_order(
                Order(order_id=order_id, hub_version=1, version=1, status=Status.PENDING, lines=[], document=doc), 0
            )
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"{_WITHOUT_ORDER_NUMBERS} PRAGMA user_version = 10;")
    conn.close()
    upgraded = Store.open(path)
    with upgraded.reading() as repo:
        assert repo.order_by_number("TB-1") == ("SO-1", OrderNumber.CHANNEL)
        assert repo.order_by_number("SO-2") == ("SO-2", OrderNumber.ORDER_ID)
        assert repo.order_by_number("7") is None  # not a text number: nothing a scan could name
    plan = upgraded.conn.execute(
        "EXPLAIN QUERY PLAN SELECT order_id FROM orders WHERE channel_order_no = ?", ["TB-1"]
    ).fetchall()
    assert "orders_by_channel_order_no" in str(plan)
    upgraded.close()


def test_schema_12_tokens_and_users_keep_working(tmp_path: Path) -> None:
    """Upgrading to 13 keeps every token valid (none expires) and every user and session as it was; the new
    columns then take expiries and disables."""
    path = tmp_path / "station.db"
    store = Store.open(path)
    _, secret = create_token(store, ApiRole.BENCH, "bench-B01", SYSTEM, "B01")
    add_user(store, "zhao", "correct horse battery", SYSTEM)
    session = open_session(store, "zhao")
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"{_WITHOUT_ACCOUNTS} PRAGMA user_version = 12;")
    conn.close()
    upgraded = Store.open(path)
    try:
        assert upgraded.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 13
        principal = verify_token(upgraded, secret)
        assert principal is not None
        assert (principal.bench_id, principal.expires_at_ms) == ("B01", None)
        assert [t.state(upgraded.wall_ms()) for t in list_tokens(upgraded)] == ["active"]
        assert check_password(upgraded, "zhao", "correct horse battery")
        assert verify_session(upgraded, session) is not None
        [user] = list_users(upgraded)
        assert (user.disabled, user.disabled_at_ms, user.open_sessions) == (False, None, 1)
        _, expiring = create_token(upgraded, ApiRole.PDA, "pda", SYSTEM, expires_at_ms=upgraded.wall_ms() + 60_000)
        assert verify_token(upgraded, expiring) is not None
        disable_user(upgraded, "zhao", SYSTEM)
        assert verify_session(upgraded, session) is None
        assert list_users(upgraded)[0].disabled_at_ms is not None
    finally:
        upgraded.close()
