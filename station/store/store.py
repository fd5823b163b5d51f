"""The Store: the single writer of the station's database and the source of event sequence numbers.

A `Tx` (from `Store.transaction()`) is the only way to write. Each event appended in it gets the next
gapless `seq`, a UUIDv7, the next hybrid-logical-clock value and its place in the hash chain; the event row
is the clock's persisted value (its `at`), committed in the same transaction, and the clock resumes from the
last event at start. Subscribers hear about events only after COMMIT returns,
so nothing is shown to a packer that a power cut could take back.

Longer than ~400 lines on purpose: the writer (`Store`), its transaction (`Tx`) and the outbox reads share the
connection, its lock and the caches that are valid only while this connection is the only writer; kept in one
module, that invariant is checked in one place.
"""

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from cloud_sync.chain import genesis_hash
from station.clock import Hlc, HybridLogicalClock, SyncState, WallClockMs, read_boot_id, system_wall_ms
from station.events import SYSTEM, Actor, Envelope, EventType, NewEvent
from station.ids import uuid7, uuid7_text
from station.store.anchor import Anchor, check_head, read_anchor, write_anchor
from station.store.database import RecoveryReport, connect, open_checked
from station.store.migrations import migrate
from station.store.repository import Repository, WriterCache
from station.store.sealing import canonical_text, seal

logger = logging.getLogger(__name__)

# SQLite checkpoints the WAL inside the COMMIT that crosses `wal_autocheckpoint` pages: that scan then waits for
# the copy into the database file and its fsync. The writer's threshold is therefore only a backstop (~40 MB of
# WAL); the station checkpoints from housekeeping with `Store.checkpoint()`, on its own connection, PASSIVE, so
# that no scan waits for it.
WAL_AUTOCHECKPOINT_PAGES = 10_000

_ACTOR_JSON_CACHE_SIZE = 256

_ALERT_TYPES = frozenset({EventType.ALERT_RAISED, EventType.ALERT_CLEARED})

# The outbox watermark in `meta`: every event with seq at or below it is committed at the hub.
_ACKED_THROUGH = "outbox.acked_through"

Subscriber = Callable[[list[Envelope]], None]


def envelope_from_row(row: dict[str, Any]) -> Envelope:
    """Rebuild the wire envelope of an event from its database row."""
    return {
        "seq": row["seq"],
        "event_id": row["event_id"],
        "stream_epoch": row["stream_epoch"],
        "type": row["type"],
        "order_id": row["order_id"],
        "actor": json.loads(row["actor"]),
        "at": {"ms": row["at_ms"], "counter": row["at_counter"]},
        "wall_raw": row["wall_raw"],
        "boot_id": row["boot_id"],
        "clock_synced": bool(row["clock_synced"]),
        "data": json.loads(row["data"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


class Tx:
    """One write transaction: the repository plus `append()` for events."""

    def __init__(self, store: "Store") -> None:
        self._store = store
        self.repo = Repository(store.db, cache=store.cache)
        self.events: list[Envelope] = []
        self._last_seq, self._last_hash = store.head()
        self.now_ms: int = store.clock.last.ms

    def append(self, event: NewEvent) -> Envelope:
        """Append an event; return its envelope (with `seq`)."""
        store = self._store
        hlc, wall = store.clock.tick()
        self.now_ms = hlc.ms
        seq = self._last_seq + 1
        event_id = uuid7_text(hlc.ms)
        actor_json = store.actor_json(event.actor)
        data = dict(event.data)
        data_json = canonical_text(data)
        synced = store.sync_state.is_synced()
        digest = seal(
            seq=seq,
            event_id=event_id,
            stream_epoch=store.stream_epoch,
            event_type=event.type,
            order_id=event.order_id,
            actor_json=actor_json,
            at_ms=hlc.ms,
            at_counter=hlc.counter,
            wall_raw=wall,
            boot_id=store.boot_id,
            clock_synced=synced,
            data_json=data_json,
            prev_hash=self._last_hash,
        )
        store.conn.execute(
            "INSERT INTO events (seq, event_id, stream_epoch, type, order_id, actor, at_ms, at_counter, wall_raw, "
            "boot_id, clock_synced, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                seq,
                event_id,
                store.stream_epoch,
                event.type,
                event.order_id,
                actor_json,
                hlc.ms,
                hlc.counter,
                wall,
                store.boot_id,
                int(synced),
                data_json,
                self._last_hash,
                digest,
            ],
        )
        envelope: Envelope = {
            "seq": seq,
            "event_id": event_id,
            "stream_epoch": store.stream_epoch,
            "type": event.type,
            "order_id": event.order_id,
            "actor": event.actor.as_dict(),
            "at": hlc.as_dict(),
            "wall_raw": wall,
            "boot_id": store.boot_id,
            "clock_synced": synced,
            "data": data,
            "prev_hash": self._last_hash,
            "hash": digest,
        }
        if event.type in _ALERT_TYPES:
            self._track_alert(envelope)
        self._last_seq += 1
        self._last_hash = envelope["hash"]
        self.events.append(envelope)
        return envelope

    def _track_alert(self, envelope: Envelope) -> None:
        # Whoever raises or clears an alert (through `station.alerts.ledger`, or the recovery alert of `open`),
        # the table of active alerts changes in the same transaction as the event that says so.
        data = envelope["data"]
        key = [str(data.get("alert")), str(data.get("subject") or "")]
        if envelope["type"] == EventType.ALERT_RAISED:
            self._store.db.execute(
                "INSERT OR REPLACE INTO alerts_active (alert, subject, seq) VALUES (?, ?, ?)", [*key, envelope["seq"]]
            )
        else:
            self._store.db.execute("DELETE FROM alerts_active WHERE alert = ? AND subject = ?", key)

    def wall_now_ms(self) -> int:
        """The clock's time for decisions inside this transaction (idle lock, windows), never going back."""
        hlc = self._store.clock.last
        return max(hlc.ms, self._store.wall_ms())


class Store:
    """Owns the database file. Create with `Store.open(path)`; use from one writer at a time."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        recovered: RecoveryReport | None,
        wall_ms: WallClockMs,
        sync_state: SyncState,
        boot_id: str,
    ) -> None:
        self.path = path
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.recovered = recovered
        self.wall_ms = wall_ms
        self.sync_state = sync_state
        self.boot_id = boot_id
        self._lock = threading.RLock()
        self._subscribers: list[Subscriber] = []
        # Caches valid while this connection is the only writer; see `_drop_caches_if_written_elsewhere`.
        self._head: tuple[int, str] | None = None  # (seq, hash) of the last committed event
        self.cache = WriterCache()
        self._data_version = -1
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._closed = False
        self._actor_json: dict[Actor, str] = {}
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        meta = {r["key"]: r["value"] for r in self.db.query("SELECT key, value FROM meta")}
        self.stream_epoch: str = meta["stream_epoch"]
        ms, counter = (int(x) for x in meta["hlc"].split(":"))
        self.clock = HybridLogicalClock(wall_ms, Hlc(ms, counter))
        # (Databases written before events carried the clock also kept it in `meta`; the later of the two wins.)
        self._resume_clock_after_last_event()

    def _resume_clock_after_last_event(self) -> None:
        # Every event carries the clock value it was issued at, committed with it: continue after the last one.
        last = self.conn.execute("SELECT at_ms, at_counter FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if last is not None:
            self.clock.restore(Hlc(int(last[0]), int(last[1])))

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        wall_ms: WallClockMs = system_wall_ms,
        sync_state: SyncState | None = None,
        boot_id: str | None = None,
        recover: bool = True,
        recover_empty: bool = False,
    ) -> "Store":
        """Open (creating or recovering) the database at `path`, migrated to the current schema.

        `recover=False` is for inspecting (`station doctor`): a corrupt file raises `CorruptDatabaseError` and
        is left where it is, for the service to recover when it starts. An empty (0-byte) file raises
        `EmptyDatabaseError` and is left where it is unless `recover_empty` (`station run --recover-empty-db`).
        """
        conn, recovered = open_checked(path, recover=recover, recover_empty=recover_empty)
        try:
            applied = migrate(conn)
            if applied:
                logger.info("database %s migrated to schema %s", path, applied[-1])
            if conn.execute("SELECT count(*) FROM meta WHERE key = 'stream_epoch'").fetchone()[0] == 0:
                epoch = str(uuid7())
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO meta (key, value) VALUES ('stream_epoch', ?), ('hlc', '0:0')", [epoch])
                conn.execute("COMMIT")
                logger.info("new event stream, epoch %s", epoch)
        except BaseException:
            conn.close()
            raise
        store = cls(
            conn,
            path=path,
            recovered=recovered,
            wall_ms=wall_ms,
            sync_state=sync_state or SyncState(),
            boot_id=read_boot_id() if boot_id is None else boot_id,
        )
        if recovered is not None:
            with store.transaction() as tx:
                tx.append(
                    NewEvent(
                        EventType.ALERT_RAISED,
                        SYSTEM,
                        data={
                            "alert": "database_corrupt",
                            "moved_to": str(recovered.moved_to),
                            "detail": recovered.detail[:500],
                        },
                    )
                )
        return store

    def actor_json(self, actor: Actor) -> str:
        """An actor's canonical JSON, as stored and hashed (a bench's packer is the same actor all shift)."""
        text = self._actor_json.get(actor)
        if text is None:
            if len(self._actor_json) >= _ACTOR_JSON_CACHE_SIZE:
                self._actor_json.clear()
            text = self._actor_json[actor] = canonical_text(actor.as_dict())
        return text

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last committed event; (0, genesis hash) for an empty stream."""
        with self._lock:
            if self._head is None:
                last = next(self.db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"), None)
                self._head = (last["seq"], last["hash"]) if last else (0, genesis_hash(self.stream_epoch))
            return self._head

    def close(self) -> None:
        """Close the database (the WAL is checkpointed by SQLite)."""
        with self._checkpoint_lock:
            self._closed = True
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
                self._checkpoint_conn = None
        with self._lock:
            self.conn.close()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy committed WAL pages into the database file; return (pages in the WAL, pages copied).

        PASSIVE, on a connection of its own: it neither waits for nor blocks the writer, so call it from a
        thread other than the writer's (housekeeping). Once every page is copied, the writer starts the WAL
        from its beginning again, so the file stops growing. A failure is logged and answered with None; the
        writer's `wal_autocheckpoint` backstop still bounds the WAL. After `close()` it does nothing.
        """
        with self._checkpoint_lock:
            if self._closed:
                return None
            try:
                if self._checkpoint_conn is None:
                    self._checkpoint_conn = connect(self.path)
                row = self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                logger.exception("WAL checkpoint of %s failed", self.path)
                return None
        busy, wal_pages, copied = (int(x) for x in row)
        if busy:
            logger.debug("WAL checkpoint of %s could not run (busy)", self.path)
        return wal_pages, copied

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(events)` after every commit that appended events. Callbacks must not block."""
        self._subscribers.append(callback)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; commits on normal exit, rolls back on any exception."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._drop_caches_if_written_elsewhere()
                tx = Tx(self)
                yield tx
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._drop_caches()  # cached orders may hold changes that were just rolled back
                raise
            if tx.events:
                self._head = (tx.events[-1]["seq"], tx.events[-1]["hash"])
        for callback in self._subscribers:
            try:
                callback(tx.events)
            except Exception:
                logger.exception("event subscriber %r failed", callback)

    def _drop_caches(self) -> None:
        self.cache.clear()
        self._head = None

    def _drop_caches_if_written_elsewhere(self) -> None:
        # data_version changes when another connection (e.g. a `station` CLI command) commits to the file.
        # Its events may carry a later clock than ours: event time stays non-decreasing in seq, which time
        # windows over events rely on (`Repository.first_seq_since`).
        version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version:
            self._drop_caches()
            self._resume_clock_after_last_event()
            self._data_version = version

    @contextmanager
    def reading(self) -> Iterator[Repository]:
        """Consistent reads through the repository (serialised with writes on this connection)."""
        with self._lock:
            yield Repository(self.db)

    # -- the outbox (narrow interface for the sync agent) ---------------------------------------------------
    def events_from(self, first_seq: int, limit: int = 1000) -> list[Envelope]:
        """Event envelopes with seq >= first_seq, in seq order."""
        with self._lock:
            rows = self.db.query("SELECT * FROM events WHERE seq >= ? ORDER BY seq LIMIT ?", [first_seq, limit])
            return [envelope_from_row(r) for r in rows]

    def events_for_order(self, order_id: str) -> list[Envelope]:
        """An order's timeline, in seq order."""
        with self._lock:
            rows = self.db.query("SELECT * FROM events WHERE order_id = ? ORDER BY seq", [order_id])
            return [envelope_from_row(r) for r in rows]

    def unacked(self, limit: int = 1000) -> list[Envelope]:
        """The oldest events the hub has not acknowledged yet."""
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM events WHERE seq > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?) "
                "ORDER BY seq LIMIT ?",
                [_ACKED_THROUGH, limit],
            )
            return [envelope_from_row(r) for r in rows]

    def mark_acked(self, through_seq: int) -> int:
        """The hub committed every event up to `through_seq`; return how many events that newly covers.

        The watermark only moves forward and never past the last event: an older ack (a hub restarted from a
        backup, a duplicate delivery) changes nothing.
        """
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._acked_through()
                after = max(before, min(through_seq, self._last_seq()))
                if after != before:
                    self.conn.execute("UPDATE meta SET value = ? WHERE key = ?", [str(after), _ACKED_THROUGH])
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            return after - before

    def backlog(self) -> int:
        """How many events wait for the hub's acknowledgement (seq is gapless, so a subtraction)."""
        with self._lock:
            return self._last_seq() - self._acked_through()

    def anchor_head(self) -> None:
        """Record the chain head apart from the database (`station.store.anchor`): housekeeping and shutdown."""
        seq, digest = self.head()
        head = Anchor(self.stream_epoch, seq, digest)
        recorded = read_anchor(self.path)
        if not seq or recorded == head:
            return  # nothing new: no write (and fsync) every housekeeping tick of a quiet bench
        if recorded is not None and recorded.stream_epoch == self.stream_epoch and recorded.seq > seq:
            # Never lower the record: the events it covers are gone, and the record is what still says so.
            logger.error("not recording head seq %d below the recorded seq %d", seq, recorded.seq)
            return
        try:
            write_anchor(self.path, head)
        except OSError:  # a full disk must not stop a shutdown: the next tick or start records it
            logger.exception("could not record the chain head at seq %d", seq)

    def head_problems(self) -> list[str]:
        """What the recorded chain head and the hub's watermark say is missing at the end of the stream."""
        anchor = read_anchor(self.path)
        with self._lock:
            last, acked = self._last_seq(), self._acked_through()
            row = (
                self.conn.execute("SELECT hash FROM events WHERE seq = ?", [anchor.seq]).fetchone() if anchor else None
            )
        hash_at = {anchor.seq: str(row[0])} if anchor and row else {}
        return check_head(anchor, self.stream_epoch, last, hash_at, acked)

    def last_seq(self) -> int:
        """The highest seq in the stream (0 when empty)."""
        with self._lock:
            return self._last_seq()

    def _last_seq(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def _acked_through(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [_ACKED_THROUGH]).fetchone()
        return int(row[0])
