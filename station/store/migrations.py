"""Versioned schema migrations, tracked in `PRAGMA user_version`.

Append new migrations; never edit a released one. Each runs in its own transaction with the version bump.
"""

import sqlite3

from station.orders.model import Role, Status

_STATUSES = ", ".join(f"'{s.value}'" for s in Status)
_ROLES = ", ".join(f"'{r.value}'" for r in (Role.PACKER, Role.SUPERVISOR))

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    f"""
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stream_epoch TEXT NOT NULL,
        type TEXT NOT NULL,
        order_id TEXT,
        actor TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        at_counter INTEGER NOT NULL,
        wall_raw INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX events_by_order ON events(order_id, seq);
    CREATE INDEX events_unacked ON events(seq) WHERE acked = 0;
    CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        hub_version INTEGER NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_STATUSES})),
        held_from TEXT CHECK (held_from IS NULL OR held_from IN ({_STATUSES})),
        bench_id TEXT,
        packed_by TEXT,
        carrier TEXT,
        waybill_no TEXT,
        weight_g INTEGER,
        weight_tolerance_g INTEGER,
        measured_weight_g INTEGER,
        photo_ref TEXT,
        ship_by TEXT,
        placed_at TEXT,
        document TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX orders_by_waybill ON orders(waybill_no);
    CREATE INDEX orders_by_status ON orders(status);
    CREATE TABLE order_lines (
        order_id TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        barcodes TEXT NOT NULL,
        qty INTEGER NOT NULL CHECK (qty > 0),
        serialized INTEGER NOT NULL,
        gift_for INTEGER,
        verified INTEGER NOT NULL DEFAULT 0 CHECK (verified >= 0 AND verified <= qty),
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE verified_units (
        order_id TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
        unit_key TEXT NOT NULL,
        line_no INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (order_id, unit_key)
    );
    CREATE TABLE pending_cancellations (
        order_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        recorded_at_ms INTEGER NOT NULL
    );
    CREATE TABLE operators (
        badge TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ({_ROLES})),
        active INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE benches (
        bench_id TEXT PRIMARY KEY,
        operator_badge TEXT,
        operator_role TEXT,
        last_activity_ms INTEGER NOT NULL DEFAULT 0,
        order_id TEXT,
        qty_next INTEGER,
        reopen_requested_ms INTEGER,
        batch_id TEXT
    );
    CREATE TABLE carrier_batches (
        batch_id TEXT PRIMARY KEY,
        carrier TEXT NOT NULL,
        bench_id TEXT NOT NULL,
        opened_at_ms INTEGER NOT NULL,
        closed_at_ms INTEGER
    );
    CREATE TABLE batch_orders (
        batch_id TEXT NOT NULL REFERENCES carrier_batches(batch_id),
        order_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (batch_id, order_id)
    );
    """,
    # 2: API credentials: bearer tokens, supervisor users and their sessions (secrets stored hashed only)
    """
    CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('bench', 'pda', 'supervisor', 'hub')),
        bench_id TEXT,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER,
        last_used_at_ms INTEGER
    );
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        session_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    """,
    # 3: priority and the PDA queue (no deadline = far future, so the index alone orders the queue),
    #    when each order last changed status, and an index for time-window alerts
    """
    ALTER TABLE orders ADD COLUMN priority TEXT NOT NULL DEFAULT 'C' CHECK (priority IN ('S', 'A', 'B', 'C'));
    ALTER TABLE orders ADD COLUMN priority_rank INTEGER NOT NULL DEFAULT 3;
    ALTER TABLE orders ADD COLUMN priority_rule TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE orders ADD COLUMN priority_override TEXT CHECK (priority_override IN ('S', 'A', 'B', 'C'));
    ALTER TABLE orders ADD COLUMN deadline_ms INTEGER NOT NULL DEFAULT 9000000000000000;
    ALTER TABLE orders ADD COLUMN status_since_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE orders SET status_since_ms = updated_at_ms;
    CREATE INDEX orders_queue ON orders(status, priority_rank, deadline_ms, received_at_ms);
    CREATE TABLE claims (
        order_id TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
        pda TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    CREATE INDEX events_by_time ON events(at_ms);
    """,
    # 4: the print queue (one row per print job, per printer) and the printing alerts that are active
    """
    CREATE TABLE print_jobs (
        job_no INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL UNIQUE,
        printer TEXT NOT NULL,
        order_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('label', 'reprint', 'sscc')),
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'done', 'failed', 'unknown')),
        zpl TEXT,
        labels INTEGER NOT NULL DEFAULT 1 CHECK (labels > 0),
        attempts INTEGER NOT NULL DEFAULT 0,
        retryable INTEGER NOT NULL DEFAULT 0 CHECK (retryable = 0 OR state = 'failed'),
        reason TEXT,
        detail TEXT,
        odometer_before INTEGER,
        odometer_after INTEGER,
        requested_by TEXT,
        requested_role TEXT,
        request_reason TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        sent_at_ms INTEGER,
        finished_at_ms INTEGER
    );
    CREATE INDEX print_jobs_by_order ON print_jobs(order_id, job_no);
    CREATE INDEX print_jobs_by_state ON print_jobs(printer, state, job_no);
    CREATE TABLE print_alerts (
        alert TEXT NOT NULL,
        subject TEXT NOT NULL,
        order_id TEXT,
        raised_seq INTEGER NOT NULL,
        PRIMARY KEY (alert, subject)
    );
    """,
    # 5: commands from the hub (idempotency on cmd_id, gapless cmd_seq) and the configuration it set
    """
    CREATE TABLE hub_commands (
        cmd_id TEXT PRIMARY KEY,
        cmd_seq INTEGER NOT NULL UNIQUE,
        applied INTEGER NOT NULL,
        reason TEXT,
        at_ms INTEGER NOT NULL
    );
    CREATE TABLE hub_config (
        section TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        cmd_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (section, key)
    );
    """,
    # 6: what a pending supervisor badge at a bench authorises (CMD:REOPEN or CMD:REPRINT)
    """
    ALTER TABLE benches ADD COLUMN authorisation_for TEXT;
    UPDATE benches SET authorisation_for = 'reopen' WHERE reopen_requested_ms IS NOT NULL;
    """,
    # 7: packing video — closed recording segments, order clips (with the dispute flag) and packing photos;
    # paths are relative to the data directory
    """
    CREATE TABLE video_segments (
        path TEXT PRIMARY KEY,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL
    );
    CREATE INDEX video_segments_by_time ON video_segments(start_ms, end_ms);
    CREATE TABLE video_clips (
        order_id TEXT PRIMARY KEY,
        path TEXT,
        sha256 TEXT,
        bytes INTEGER,
        start_ms INTEGER,
        end_ms INTEGER,
        duration_s REAL,
        markers TEXT NOT NULL DEFAULT '[]',
        created_ms INTEGER,
        disputed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE video_photos (
        order_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        wall_ms INTEGER NOT NULL,
        PRIMARY KEY (order_id, n)
    );
    """,
    # 8: three fewer index pages written with every event (on the scan path's commit):
    # - the outbox is a watermark (`meta` outbox.acked_through; the hub acks a contiguous prefix, so seq above
    #   it is exactly the unacked set) instead of a per-row flag with a partial index;
    # - time windows over events range on seq (the HLC makes at_ms non-decreasing in seq), not an at_ms index;
    # - event_id loses its UNIQUE index: a UUIDv7 made here is unique by construction, nothing looks an event
    #   up by it, and the hub deduplicates on (station, stream_epoch, seq).
    # The table is spelled out again (migration 1's columns less `acked`): a migration is frozen history, so it
    # must not share text with an earlier one that somebody could edit.
    """
    INSERT OR REPLACE INTO meta (key, value) VALUES ('outbox.acked_through', CAST(coalesce(
        (SELECT min(seq) - 1 FROM events WHERE acked = 0), (SELECT max(seq) FROM events), 0) AS TEXT));
    CREATE TABLE events_v8 (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        stream_epoch TEXT NOT NULL,
        type TEXT NOT NULL,
        order_id TEXT,
        actor TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        at_counter INTEGER NOT NULL,
        wall_raw INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    INSERT INTO events_v8 SELECT seq, event_id, stream_epoch, type, order_id, actor, at_ms, at_counter, wall_raw,
        boot_id, clock_synced, data, prev_hash, hash FROM events;
    DROP TABLE events;
    ALTER TABLE events_v8 RENAME TO events;
    CREATE INDEX events_by_order ON events(order_id, seq);
    """,
    # 9: the alerts that are raised and not cleared, kept by `Tx.append` with their events, so that listing
    # them does not read the whole event log; filled here by replaying the alert events already written
    """
    CREATE TABLE alerts_active (
        alert TEXT NOT NULL,
        subject TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (alert, subject)
    );
    INSERT INTO alerts_active (alert, subject, seq)
    SELECT alert, subject, seq FROM (
        SELECT coalesce(json_extract(data, '$.alert'), 'None') AS alert,
               coalesce(json_extract(data, '$.subject'), '') AS subject, seq, type,
               row_number() OVER (PARTITION BY coalesce(json_extract(data, '$.alert'), 'None'),
                                  coalesce(json_extract(data, '$.subject'), '') ORDER BY seq DESC) AS latest
        FROM events WHERE type IN ('alert.raised', 'alert.cleared'))
    WHERE latest = 1 AND type = 'alert.raised';
    """,
    # 10: one table of active alerts: the print queue's own copy (`print_alerts`) goes. Every print alert's
    # event put it in `alerts_active` too (migration 9 replayed them, `Tx.append` keeps them since), and the
    # order an active alert is about is that of its raising event, so nothing is lost. A print alert missing
    # from `alerts_active` whose raise no later event cleared is put back, so that the print queue still
    # clears every alert it raised.
    """
    INSERT OR IGNORE INTO alerts_active (alert, subject, seq)
    SELECT p.alert, p.subject, p.raised_seq FROM print_alerts p
    WHERE NOT EXISTS (SELECT 1 FROM alerts_active a WHERE a.alert = p.alert AND a.subject = p.subject)
      AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.seq > p.raised_seq AND e.type = 'alert.cleared'
          AND coalesce(json_extract(e.data, '$.alert'), 'None') = p.alert
          AND coalesce(json_extract(e.data, '$.subject'), '') = p.subject);
    DROP TABLE print_alerts;
    """,
    # 11: every number an order is known by finds it through an index: the channel's own order number (as
    # printed on the packing slip) beside the order id and the waybill; the SKUs of its lines and the unit
    # codes (serials) verified into it, for the supervisor's search
    """
    ALTER TABLE orders ADD COLUMN channel_order_no TEXT;
    UPDATE orders SET channel_order_no = json_extract(document, '$.channel_order_no')
        WHERE json_type(document, '$.channel_order_no') = 'text';
    CREATE INDEX orders_by_channel_order_no ON orders(channel_order_no);
    CREATE INDEX order_lines_by_sku ON order_lines(sku);
    CREATE INDEX verified_units_by_unit ON verified_units(unit_key);
    """,
    # 12: orders the hub changes on the bench (`station.orders.revision`): the units in the box that the new
    # version no longer wants, to be scanned out; and the printed labels a change voided, so that none of them
    # is scanned back or handed over
    """
    CREATE TABLE put_backs (
        order_id TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        barcodes TEXT NOT NULL,
        serialized INTEGER NOT NULL,
        qty INTEGER NOT NULL CHECK (qty > 0),
        returned INTEGER NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= qty),
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE label_voids (
        order_id TEXT NOT NULL,
        waybill_no TEXT NOT NULL,
        through_job_no INTEGER NOT NULL,
        voided_at_ms INTEGER NOT NULL
    );
    CREATE INDEX label_voids_by_order ON label_voids(order_id, through_job_no);
    CREATE INDEX label_voids_by_waybill ON label_voids(waybill_no);
    """,
    # 13: accounts. A token may expire (`station token create --expires`); null is never, so every token made
    # before keeps working. A user disabled by `station user disable` records when; `disabled` (from migration 2)
    # stays the flag that logins and sessions check, so no query that guards access changes meaning here.
    """
    ALTER TABLE api_tokens ADD COLUMN expires_at_ms INTEGER;
    ALTER TABLE users ADD COLUMN disabled_at_ms INTEGER;
    """,
)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Bring the schema up to date; return the versions applied. The connection must be in autocommit mode."""
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this software knows ({len(MIGRATIONS)}); "
            "upgrade the station software instead of downgrading"
        )
    applied = []
    for version in range(current + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _split(script: str) -> list[str]:
    # executescript() would COMMIT behind our back; run statement by statement inside our transaction.
    return [s.strip() for s in script.split(";") if s.strip()]
