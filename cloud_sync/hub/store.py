"""The hub kit's storage: events stored once per (site, station, stream_epoch, seq), the contiguous high-water
mark that may be acknowledged, gaps, hash-chain verification, and the commands sent to stations.

SQLite by default; PostgreSQL when given a `postgresql://` DSN and the optional `psycopg` (3.x) is installed.
Several hub instances may share one database: every ingest runs in one write transaction that also advances
the high-water mark, so an ack always reflects committed rows, whichever instance committed them.
"""

import importlib
import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cloud_sync.chain import genesis_hash, hash_ok
from cloud_sync.wire import CmdAck

logger = logging.getLogger(__name__)

_ADVANCE_CHUNK = 2000
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")
MAX_REPORTED_GAPS = 16

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hub_events (
        site TEXT NOT NULL, station TEXT NOT NULL, stream_epoch TEXT NOT NULL, seq BIGINT NOT NULL,
        event_id TEXT NOT NULL, type TEXT NOT NULL, order_id TEXT, hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash_ok INTEGER NOT NULL, envelope TEXT NOT NULL, received_ms BIGINT NOT NULL,
        PRIMARY KEY (site, station, stream_epoch, seq))""",
    """CREATE TABLE IF NOT EXISTS hub_streams (
        site TEXT NOT NULL, station TEXT NOT NULL, stream_epoch TEXT NOT NULL,
        acked_through BIGINT NOT NULL, head_hash TEXT NOT NULL, chain_ok INTEGER NOT NULL,
        first_bad_seq BIGINT, problem TEXT, duplicates BIGINT NOT NULL, conflicts BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL, PRIMARY KEY (site, station, stream_epoch))""",
    """CREATE TABLE IF NOT EXISTS hub_stations (
        site TEXT NOT NULL, station TEXT NOT NULL, cmd_next_seq BIGINT NOT NULL, cmd_applied_through BIGINT NOT NULL,
        status TEXT, status_ms BIGINT, PRIMARY KEY (site, station))""",
    """CREATE TABLE IF NOT EXISTS hub_commands (
        site TEXT NOT NULL, station TEXT NOT NULL, cmd_seq BIGINT NOT NULL, cmd_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL, data TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, created_ms BIGINT NOT NULL,
        sent_ms BIGINT, PRIMARY KEY (site, station, cmd_seq))""",
    # The evidence key each station announced first (pinned), and every other one it announced since.
    """CREATE TABLE IF NOT EXISTS hub_station_keys (
        site TEXT NOT NULL, station TEXT NOT NULL, fingerprint TEXT NOT NULL, first_seen_ms BIGINT NOT NULL,
        PRIMARY KEY (site, station))""",
    """CREATE TABLE IF NOT EXISTS hub_key_changes (
        site TEXT NOT NULL, station TEXT NOT NULL, pinned TEXT NOT NULL, announced TEXT NOT NULL,
        seen_ms BIGINT NOT NULL, PRIMARY KEY (site, station, announced))""",
)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True, order=True)
class StreamKey:
    """One station's event stream."""

    site: str
    station: str
    stream_epoch: str


@dataclass
class StreamProgress:
    """What an ingest did to one stream: the ack to send and what was new."""

    key: StreamKey
    acked_through: int
    missing: list[tuple[int, int]]
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    released: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The state of one stream, for reports."""

    key: StreamKey
    acked_through: int
    events: int
    max_seq: int
    duplicates: int
    conflicts: int
    chain_ok: bool
    first_bad_seq: int | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class OutgoingCommand:
    """A command to (re)send to a station."""

    site: str
    station: str
    cmd_id: str
    cmd_seq: int
    type: str
    data: dict[str, Any]


class _Cursor(Protocol):
    rowcount: int

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class _Dialect:
    """SQLite flavour; `_PgDialect` overrides what differs."""

    placeholder = "?"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def sql(self, text: str) -> str:
        return text

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def lock_stream(self, key: StreamKey) -> None:
        """SQLite's BEGIN IMMEDIATE already serialises writers."""

    def execute(self, text: str, params: Sequence[Any] = ()) -> _Cursor:
        cursor: _Cursor = self.conn.execute(self.sql(text), tuple(params))
        return cursor

    def executemany(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        self.conn.executemany(self.sql(text), rows)

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


class _PgDialect(_Dialect):
    placeholder = "%s"

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def lock_stream(self, key: StreamKey) -> None:
        # Writers of the same stream take turns; other streams proceed in parallel.
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("/".join((key.site, key.station)),))

    def execute(self, text: str, params: Sequence[Any] = ()) -> _Cursor:
        cursor: _Cursor = self.conn.execute(self.sql(text), tuple(params))
        return cursor

    def executemany(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self.sql(text), rows)

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")


def _open_sqlite(path: Path) -> _Dialect:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    # An ack promises the rows are durable: FULL, as on the station.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return _Dialect(conn)


def _open_postgres(dsn: str) -> _Dialect:
    try:
        psycopg = importlib.import_module("psycopg")
    except ImportError as err:
        raise RuntimeError(
            "PostgreSQL storage needs the optional package psycopg (pip install 'psycopg[binary]')"
        ) from err
    conn = psycopg.connect(dsn, autocommit=True)
    return _PgDialect(conn)


class HubStore:
    """Event, stream and command storage of the hub kit. Not thread-safe by itself: one user at a time."""

    def __init__(self, dialect: _Dialect) -> None:
        self._db = dialect
        self._lock = threading.RLock()
        for ddl in _SCHEMA:
            self._db.execute(ddl)
        self._db.execute("CREATE INDEX IF NOT EXISTS hub_events_by_order ON hub_events (order_id)")

    @classmethod
    def open(cls, target: str | Path) -> "HubStore":
        """A SQLite file path, or a `postgresql://` DSN."""
        text = str(target)
        if text.startswith(("postgresql://", "postgres://")):
            return cls(_open_postgres(text))
        return cls(_open_sqlite(Path(text)))

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[_Dialect]:
        with self._lock:
            self._db.begin()
            try:
                yield self._db
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    # -- events -----------------------------------------------------------------------------------------------
    def ingest(
        self, batch: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]], *, want_released: bool = False
    ) -> list[StreamProgress]:
        """Store events (duplicates ignored) and advance each touched stream's high-water mark, in one commit.

        `batch` holds (site, station, envelopes) triples, as decoded from `evt` messages.
        """
        by_stream: dict[StreamKey, dict[int, Mapping[str, Any]]] = {}
        for site, station, envelopes in batch:
            for env in envelopes:
                key = StreamKey(site, station, str(env["stream_epoch"]))
                by_stream.setdefault(key, {})[int(env["seq"])] = env
        results: list[StreamProgress] = []
        with self._transaction() as db:
            for key in sorted(by_stream):
                db.lock_stream(key)
                results.append(self._ingest_stream(db, key, by_stream[key], want_released))
        return results

    def _ingest_stream(
        self, db: _Dialect, key: StreamKey, envelopes: dict[int, Mapping[str, Any]], want_released: bool
    ) -> StreamProgress:
        now = _now_ms()
        lo, hi = min(envelopes), max(envelopes)
        existing = {
            int(seq): h
            for seq, h in db.execute(
                "SELECT seq, hash FROM hub_events WHERE site=? AND station=? AND stream_epoch=? "
                "AND seq BETWEEN ? AND ?",
                (key.site, key.station, key.stream_epoch, lo, hi),
            ).fetchall()
        }
        rows: list[tuple[Any, ...]] = []
        duplicates = conflicts = 0
        for seq, env in sorted(envelopes.items()):
            if seq in existing:
                if existing[seq] == env["hash"]:
                    duplicates += 1
                else:
                    conflicts += 1
                    logger.error("stream %s: seq %s arrived again with a different hash; kept the first", key, seq)
                continue
            rows.append(
                (
                    key.site, key.station, key.stream_epoch, seq, env["event_id"], env["type"], env["order_id"],
                    env["hash"], env["prev_hash"], int(hash_ok(env)),
                    json.dumps(env, separators=(",", ":"), ensure_ascii=False), now,
                )
            )  # fmt: skip
        if rows:
            db.executemany(
                "INSERT INTO hub_events (site, station, stream_epoch, seq, event_id, type, order_id, hash, prev_hash, "
                "hash_ok, envelope, received_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                rows,
            )
        db.execute(
            "INSERT INTO hub_streams (site, station, stream_epoch, acked_through, head_hash, chain_ok, duplicates, "
            "conflicts, updated_ms) VALUES (?,?,?,0,?,1,0,0,?) ON CONFLICT DO NOTHING",
            (key.site, key.station, key.stream_epoch, genesis_hash(key.stream_epoch), now),
        )
        if duplicates or conflicts:
            db.execute(
                "UPDATE hub_streams SET duplicates = duplicates + ?, conflicts = conflicts + ? "
                "WHERE site=? AND station=? AND stream_epoch=?",
                (duplicates, conflicts, key.site, key.station, key.stream_epoch),
            )
        before, after, missing = self._advance(db, key, now)
        released: list[dict[str, Any]] = []
        if want_released and after > before:
            released = [
                json.loads(r[0])
                for r in db.execute(
                    "SELECT envelope FROM hub_events WHERE site=? AND station=? AND stream_epoch=? AND seq > ? "
                    "AND seq <= ? ORDER BY seq",
                    (key.site, key.station, key.stream_epoch, before, after),
                ).fetchall()
            ]
        return StreamProgress(key, after, missing, len(rows), duplicates, conflicts, released)

    def _advance(self, db: _Dialect, key: StreamKey, now: int) -> tuple[int, int, list[tuple[int, int]]]:
        """Move the high-water mark over contiguous stored events, verifying the chain on the way."""
        params = (key.site, key.station, key.stream_epoch)
        acked, head, chain_ok, first_bad, problem = db.execute(
            "SELECT acked_through, head_hash, chain_ok, first_bad_seq, problem FROM hub_streams "
            "WHERE site=? AND station=? AND stream_epoch=?",
            params,
        ).fetchone()
        before = h = int(acked)
        gap = False
        while not gap:
            rows = db.execute(
                "SELECT seq, hash, prev_hash, hash_ok FROM hub_events WHERE site=? AND station=? AND stream_epoch=? "
                "AND seq > ? ORDER BY seq LIMIT ?",
                (*params, h, _ADVANCE_CHUNK),
            ).fetchall()
            for seq, ev_hash, prev_hash, ev_ok in rows:
                if int(seq) != h + 1:
                    gap = True
                    break
                if chain_ok and not ev_ok:
                    chain_ok, first_bad, problem = 0, int(seq), "hash_mismatch"
                elif chain_ok and prev_hash != head:
                    chain_ok, first_bad, problem = 0, int(seq), "broken_link"
                head, h = ev_hash, int(seq)
            if len(rows) < _ADVANCE_CHUNK:
                break
        if chain_ok == 0 and problem and first_bad is not None and before < first_bad <= h:
            logger.error("stream %s: hash chain broken at seq %s (%s)", key, first_bad, problem)
        if h != before:
            db.execute(
                "UPDATE hub_streams SET acked_through=?, head_hash=?, chain_ok=?, first_bad_seq=?, problem=?, "
                "updated_ms=? WHERE site=? AND station=? AND stream_epoch=?",
                (h, head, chain_ok, first_bad, problem, now, *params),
            )
        return before, h, (self._gaps(db, key, h) if gap else [])

    def _gaps(self, db: _Dialect, key: StreamKey, acked: int) -> list[tuple[int, int]]:
        rows = db.execute(
            "SELECT seq FROM hub_events WHERE site=? AND station=? AND stream_epoch=? AND seq > ? ORDER BY seq "
            "LIMIT 20000",
            (key.site, key.station, key.stream_epoch, acked),
        ).fetchall()
        gaps: list[tuple[int, int]] = []
        expected = acked + 1
        for (seq,) in rows:
            if int(seq) > expected:
                gaps.append((expected, int(seq) - 1))
                if len(gaps) >= MAX_REPORTED_GAPS:
                    break
            expected = int(seq) + 1
        return gaps

    def progress(self, key: StreamKey) -> StreamProgress | None:
        """Where a stream stands now (for re-reporting gaps), or None if unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT acked_through FROM hub_streams WHERE site=? AND station=? AND stream_epoch=?",
                (key.site, key.station, key.stream_epoch),
            ).fetchone()
            if row is None:
                return None
            return StreamProgress(key, int(row[0]), self._gaps(self._db, key, int(row[0])))

    def streams(self) -> list[StreamInfo]:
        """Every stream with its counts and chain verdict."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.site, s.station, s.stream_epoch, s.acked_through, s.duplicates, s.conflicts, s.chain_ok, "
                "s.first_bad_seq, s.problem, (SELECT count(*) FROM hub_events e WHERE e.site=s.site AND "
                "e.station=s.station AND e.stream_epoch=s.stream_epoch), (SELECT coalesce(max(seq), 0) FROM "
                "hub_events e WHERE e.site=s.site AND e.station=s.station AND e.stream_epoch=s.stream_epoch) "
                "FROM hub_streams s ORDER BY s.site, s.station, s.stream_epoch"
            ).fetchall()
        return [
            StreamInfo(
                StreamKey(r[0], r[1], r[2]), int(r[3]), int(r[9]), int(r[10]), int(r[4]), int(r[5]), bool(r[6]),
                None if r[7] is None else int(r[7]), r[8],
            )
            for r in rows
        ]  # fmt: skip

    def events(self, key: StreamKey, first_seq: int = 1, limit: int = 1000) -> list[dict[str, Any]]:
        """Stored envelopes of a stream from `first_seq`, in seq order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT envelope FROM hub_events WHERE site=? AND station=? AND stream_epoch=? AND seq >= ? "
                "ORDER BY seq LIMIT ?",
                (key.site, key.station, key.stream_epoch, first_seq, int(limit)),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- commands ---------------------------------------------------------------------------------------------
    def _ensure_station(self, db: _Dialect, site: str, station: str) -> None:
        db.execute(
            "INSERT INTO hub_stations (site, station, cmd_next_seq, cmd_applied_through) VALUES (?,?,1,0) "
            "ON CONFLICT DO NOTHING",
            (site, station),
        )

    def enqueue_command(
        self, site: str, station: str, kind: str, data: Mapping[str, Any], cmd_id: str | None = None
    ) -> tuple[str, int]:
        """Give a command the station's next cmd_seq and keep it until the station has processed it."""
        cmd_id = cmd_id or f"hub-{uuid.uuid4().hex}"
        with self._transaction() as db:
            db.lock_stream(StreamKey(site, station, ""))
            self._ensure_station(db, site, station)
            (seq,) = db.execute(
                "SELECT cmd_next_seq FROM hub_stations WHERE site=? AND station=?", (site, station)
            ).fetchone()
            db.execute(
                "INSERT INTO hub_commands (site, station, cmd_seq, cmd_id, type, data, state, created_ms) "
                "VALUES (?,?,?,?,?,?,'pending',?)",
                (site, station, int(seq), cmd_id, kind, json.dumps(dict(data), ensure_ascii=False), _now_ms()),
            )
            db.execute(
                "UPDATE hub_stations SET cmd_next_seq = ? WHERE site=? AND station=?", (int(seq) + 1, site, station)
            )
        return cmd_id, int(seq)

    def commands_due(self, resend_after_ms: int, limit: int = 100) -> list[OutgoingCommand]:
        """Commands above each station's applied_through that were never sent, or not for `resend_after_ms`."""
        cutoff = _now_ms() - resend_after_ms
        with self._lock:
            rows = self._db.execute(
                "SELECT c.site, c.station, c.cmd_id, c.cmd_seq, c.type, c.data FROM hub_commands c "
                "JOIN hub_stations s ON s.site = c.site AND s.station = c.station "
                "WHERE c.cmd_seq > s.cmd_applied_through AND (c.sent_ms IS NULL OR c.sent_ms < ?) "
                "ORDER BY c.site, c.station, c.cmd_seq LIMIT ?",
                (cutoff, int(limit)),
            ).fetchall()
        return [OutgoingCommand(r[0], r[1], r[2], int(r[3]), r[4], json.loads(r[5])) for r in rows]

    def mark_sent(self, commands: Sequence[OutgoingCommand]) -> None:
        """Remember when commands went out (for the resend timer)."""
        if not commands:
            return
        now = _now_ms()
        with self._transaction() as db:
            db.executemany("UPDATE hub_commands SET sent_ms=? WHERE cmd_id=?", [(now, c.cmd_id) for c in commands])

    def record_cmd_ack(self, site: str, station: str, ack: CmdAck) -> None:
        """Apply a station's `cmd_ack`: refusals with their reasons, everything else through applied_through done.

        applied_through is taken as reported even when it goes down: a station that lost its bookkeeping
        gets every command above it again (the station's intake makes that harmless).
        """
        with self._transaction() as db:
            self._ensure_station(db, site, station)
            for rej in ack.rejected:
                if rej.cmd_id is None:
                    logger.warning(
                        "station %s/%s refused a command it could not identify: %s", site, station, rej.reason
                    )
                    continue
                db.execute(
                    "UPDATE hub_commands SET state='rejected', reason=? WHERE site=? AND station=? AND cmd_id=?",
                    (rej.reason, site, station, rej.cmd_id),
                )
            db.execute(
                "UPDATE hub_commands SET state='applied' WHERE site=? AND station=? AND cmd_seq <= ? "
                "AND state='pending'",
                (site, station, ack.applied_through),
            )
            db.execute(
                "UPDATE hub_stations SET cmd_applied_through=? WHERE site=? AND station=?",
                (ack.applied_through, site, station),
            )

    def record_status(self, site: str, station: str, doc: Mapping[str, Any]) -> None:
        """Keep a station's latest status; its cmd_applied_through also reschedules commands it lacks."""
        with self._transaction() as db:
            self._ensure_station(db, site, station)
            db.execute(
                "UPDATE hub_stations SET status=?, status_ms=? WHERE site=? AND station=?",
                (json.dumps(dict(doc), ensure_ascii=False), _now_ms(), site, station),
            )
            self._pin_evidence_key(db, site, station, doc.get("evidence_key"))
            through = doc.get("cmd_applied_through")
            if isinstance(through, int) and not isinstance(through, bool) and doc.get("state") == "online":
                db.execute(
                    "UPDATE hub_stations SET cmd_applied_through=? WHERE site=? AND station=?", (through, site, station)
                )
                # A (re)started station gets what it lacks now rather than at the next resend timer.
                db.execute(
                    "UPDATE hub_commands SET sent_ms=NULL WHERE site=? AND station=? AND cmd_seq > ?",
                    (site, station, through),
                )

    def _pin_evidence_key(self, db: _Dialect, site: str, station: str, announced: Any) -> None:
        # First sight pins the station's evidence key; a different one later is recorded and logged, never
        # adopted: bundles signed by it do not verify against the pinned key until a person decides.
        if not isinstance(announced, str) or not _FINGERPRINT.fullmatch(announced):
            return
        now = _now_ms()
        db.execute(
            "INSERT INTO hub_station_keys (site, station, fingerprint, first_seen_ms) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (site, station, announced, now),
        )
        pinned = db.execute(
            "SELECT fingerprint FROM hub_station_keys WHERE site=? AND station=?", (site, station)
        ).fetchone()[0]
        if pinned != announced:
            inserted = db.execute(
                "INSERT INTO hub_key_changes (site, station, pinned, announced, seen_ms) VALUES (?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (site, station, pinned, announced, now),
            )
            if getattr(inserted, "rowcount", 1):
                logger.warning(
                    "station %s/%s announces evidence key %s, not its pinned %s", site, station, announced, pinned
                )

    def evidence_key(self, site: str, station: str) -> tuple[str | None, list[str]]:
        """A station's pinned evidence key (None before its first announcement) and the other keys it announced."""
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint FROM hub_station_keys WHERE site=? AND station=?", (site, station)
            ).fetchone()
            changes = self._db.execute(
                "SELECT announced FROM hub_key_changes WHERE site=? AND station=? ORDER BY seen_ms", (site, station)
            ).fetchall()
        return (row[0] if row else None), [r[0] for r in changes]

    def commands(self, site: str, station: str) -> list[dict[str, Any]]:
        """A station's commands with their state (pending / applied / rejected) and refusal reason."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cmd_id, cmd_seq, type, state, reason FROM hub_commands WHERE site=? AND station=? "
                "ORDER BY cmd_seq",
                (site, station),
            ).fetchall()
        return [{"cmd_id": r[0], "cmd_seq": int(r[1]), "type": r[2], "state": r[3], "reason": r[4]} for r in rows]
