"""Reading and writing the domain objects. Writes must happen inside a `Tx` (the store's single writer).

Longer than ~400 lines on purpose: `Repository` is the one class through which the domain objects reach their
tables (orders and lines, units, cancellations, operators, benches, batches), next to the writer's cache it
keeps current; splitting it by table would spread the cache's invariant over several modules.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from station.events import EventType
from station.orders.model import Bench, CarrierBatch, Operator, Order, OrderLine, OrderNumber, Role, Status
from station.priority.rules import LEVEL_RANK

# Orders kept parsed in the store's cache. A bench works on one order at a time; the bound keeps a station
# that runs for weeks from holding every order it ever packed.
ORDER_CACHE_SIZE = 256

# The lookup of a scanned code in each column that holds an order's numbers (each has an index), in the order
# they are tried.
_ORDER_NUMBERS = tuple(
    (number, f"SELECT order_id FROM orders WHERE {number.value} = ? LIMIT 1")  # noqa: S608 (the enum's names)
    for number in OrderNumber
)


def _lines_from_rows(rows: Iterator[dict[str, Any]]) -> list[OrderLine]:
    return [
        OrderLine(
            line_no=r["line_no"],
            sku=r["sku"],
            name=r["name"],
            barcodes=tuple(json.loads(r["barcodes"])),
            qty=r["qty"],
            serialized=bool(r["serialized"]),
            gift_for=r["gift_for"],
            verified=r["verified"],
        )
        for r in rows
    ]


# A bench's persisted state, in the column order of the `benches` table.
_BenchRow = tuple[str, str | None, str | None, int, str | None, int | None, int | None, str | None, str | None]


@dataclass(slots=True)
class WriterCache:
    """What the single writer keeps parsed between its transactions, so a scan reads neither its order nor its
    bench from the file.

    Valid only while this connection is the only one writing: the store empties it on rollback and whenever
    another connection wrote to the file. Every write of an order or a bench goes through `Repository`, which
    keeps the cache current. Orders are shared objects (callers must not change one outside a transaction);
    benches are kept as their saved rows and handed out as fresh `Bench` objects.
    """

    orders: dict[str, Order] = field(default_factory=dict)
    benches: dict[str, _BenchRow] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget everything (after a rollback, or when another connection wrote)."""
        self.orders.clear()
        self.benches.clear()


def _bench_row(bench: Bench) -> _BenchRow:
    return (
        bench.bench_id,
        bench.operator_badge,
        bench.operator_role.value if bench.operator_role else None,
        bench.last_activity_ms,
        bench.order_id,
        bench.qty_next,
        bench.reopen_requested_ms,
        bench.batch_id,
        bench.authorisation_for,
    )


def _bench_from_row(row: _BenchRow) -> Bench:
    bench_id, badge, role, last_activity_ms, order_id, qty_next, reopen_requested_ms, batch_id, authorisation = row
    return Bench(
        bench_id=bench_id,
        operator_badge=badge,
        operator_role=Role(role) if role else None,
        last_activity_ms=last_activity_ms,
        order_id=order_id,
        qty_next=qty_next,
        reopen_requested_ms=reopen_requested_ms,
        batch_id=batch_id,
        authorisation_for=authorisation,
    )


class Repository:
    """Typed access to the tables, over one sqlite-utils `Database`.

    The store's writer passes its `WriterCache`; readers on other threads pass none and always read the file.
    """

    def __init__(self, db: sqlite_utils.Database, *, cache: WriterCache | None = None) -> None:
        self.db = db
        self._cache = cache
        self._orders = cache.orders if cache is not None else None

    def _rows(self, sql: str, params: list[Any]) -> Iterator[dict[str, Any]]:
        """Rows as dicts, straight from the connection. `Database.query` wraps every SELECT in a SAVEPOINT
        and a RELEASE (two more statements), which the reads on the scan path do not need."""
        cursor = self.db.conn.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def _row(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        cursor = self.db.conn.execute(sql, params)
        try:
            row = cursor.fetchone()
            return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))
        finally:
            cursor.close()  # end the statement now: an unfinished SELECT would hold its read snapshot

    # -- orders -------------------------------------------------------------------------------------------
    def order(self, order_id: str) -> Order | None:
        """The order with its lines, or None."""
        if self._orders is not None:
            cached = self._orders.pop(order_id, None)
            if cached is not None:
                self._orders[order_id] = cached  # most recently used last
                return cached
        order = self._read_order(order_id)
        if order is not None:
            self._remember(order)
        return order

    def _remember(self, order: Order) -> None:
        """Make `order` the cached copy, evicting the least recently used beyond `ORDER_CACHE_SIZE`."""
        if self._orders is None:
            return
        self._orders.pop(order.order_id, None)
        self._orders[order.order_id] = order
        while len(self._orders) > ORDER_CACHE_SIZE:
            del self._orders[next(iter(self._orders))]

    def first_seq_since(self, at_ms: int) -> int:
        """The seq of the first event at or after `at_ms` (one past the last event when none is).

        Event time is a hybrid logical clock, non-decreasing in seq, so this is a binary search over the
        primary key: a time window over events needs no index on `at_ms` (one less page written per event).
        """
        bounds = self._row("SELECT coalesce(min(seq), 1) AS lo, coalesce(max(seq), 0) + 1 AS hi FROM events", [])
        assert bounds is not None
        lo, hi = int(bounds["lo"]), int(bounds["hi"])
        while lo < hi:
            mid = (lo + hi) // 2
            row = self._row("SELECT at_ms FROM events WHERE seq >= ? ORDER BY seq LIMIT 1", [mid])
            if row is not None and int(row["at_ms"]) >= at_ms:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def authorisation_reason(self, order_id: str) -> str | None:
        """The reason given with the order's latest request for a supervisor's authorisation, if any."""
        row = next(
            self.db.query(
                "SELECT json_extract(data, '$.reason') AS reason FROM events WHERE order_id = ? AND type = ? "
                "ORDER BY seq DESC LIMIT 1",
                [order_id, EventType.REOPEN_REQUESTED],
            ),
            None,
        )
        return None if row is None else row["reason"]

    def _read_order(self, order_id: str) -> Order | None:
        row = self._row("SELECT * FROM orders WHERE order_id = ?", [order_id])
        if row is None:
            return None
        lines = _lines_from_rows(
            self._rows("SELECT * FROM order_lines WHERE order_id = ? ORDER BY line_no", [order_id])
        )
        return Order(
            order_id=row["order_id"],
            hub_version=row["hub_version"],
            version=row["version"],
            status=Status(row["status"]),
            lines=lines,
            carrier=row["carrier"],
            waybill_no=row["waybill_no"],
            weight_g=row["weight_g"],
            weight_tolerance_g=row["weight_tolerance_g"],
            ship_by=row["ship_by"],
            placed_at=row["placed_at"],
            held_from=Status(row["held_from"]) if row["held_from"] else None,
            bench_id=row["bench_id"],
            packed_by=row["packed_by"],
            measured_weight_g=row["measured_weight_g"],
            photo_ref=row["photo_ref"],
            document=json.loads(row["document"]),
            priority=row["priority"],
            priority_rule=row["priority_rule"],
            priority_override=row["priority_override"],
            deadline_ms=row["deadline_ms"],
            status_since_ms=row["status_since_ms"],
            received_at_ms=row["received_at_ms"],
        )

    def order_by_number(self, code: str) -> tuple[str, OrderNumber] | None:
        """The order a scanned code names, and by which of its numbers: its id, its channel order number, or its
        waybill, tried in that order (each an index lookup). None when no order is known by this code."""
        for number, sql in _ORDER_NUMBERS:
            row = self._row(sql, [code])
            if row is not None:
                return str(row["order_id"]), number
        return None

    def order_id_by_waybill(self, waybill_no: str) -> str | None:
        """The order a waybill number belongs to."""
        row = self._row("SELECT order_id FROM orders WHERE waybill_no = ? LIMIT 1", [waybill_no])
        return None if row is None else str(row["order_id"])

    def insert_order(self, order: Order, now_ms: int) -> None:
        """Create an order and its lines."""
        self._forget(order.order_id)
        self.db.table("orders").insert(self._order_row(order, now_ms) | {"received_at_ms": now_ms})
        self._insert_lines(order)

    def replace_order(self, order: Order, now_ms: int) -> None:
        """Overwrite an order's header and lines (a newer hub version of a not-yet-started order)."""
        self._forget(order.order_id)
        self.db.table("orders").update(order.order_id, self._order_row(order, now_ms))
        self.db.execute("DELETE FROM order_lines WHERE order_id = ?", [order.order_id])
        self._insert_lines(order)

    def _forget(self, order_id: str) -> None:
        if self._orders is not None:
            self._orders.pop(order_id, None)

    def save_order_state(self, order: Order, now_ms: int, lines: Iterable[OrderLine] | None = None) -> None:
        """Persist status, bench, evidence and the verified counts of `lines` (default: all lines).

        The caller has already bumped `version`; the order object becomes the cached copy.
        """
        self._remember(order)
        self.db.execute(
            "UPDATE orders SET version = ?, status = ?, held_from = ?, bench_id = ?, packed_by = ?, "
            "measured_weight_g = ?, photo_ref = ?, updated_at_ms = ?, status_since_ms = ?, priority = ?, "
            "priority_rank = ?, priority_rule = ?, priority_override = ? WHERE order_id = ?",
            [
                order.version,
                order.status.value,
                order.held_from.value if order.held_from else None,
                order.bench_id,
                order.packed_by,
                order.measured_weight_g,
                order.photo_ref,
                now_ms,
                order.status_since_ms,
                order.priority,
                LEVEL_RANK[order.priority],
                order.priority_rule,
                order.priority_override,
                order.order_id,
            ],
        )
        for line in order.lines if lines is None else lines:
            self.db.execute(
                "UPDATE order_lines SET verified = ? WHERE order_id = ? AND line_no = ? AND verified != ?",
                [line.verified, order.order_id, line.line_no, line.verified],
            )

    def save_verified(self, order: Order, now_ms: int, line: OrderLine) -> None:
        """Persist an item verification: the line's count and the order's version, nothing else.

        The scan path's write. Unlike `save_order_state` it leaves status and priority alone, so SQLite does not
        rewrite the entries of the indexes on them (orders_by_status, orders_queue): two pages fewer per scan.
        The caller has bumped `version` and changed nothing else in the order header.
        """
        self._remember(order)
        self.db.execute(
            "UPDATE orders SET version = ?, updated_at_ms = ? WHERE order_id = ?",
            [order.version, now_ms, order.order_id],
        )
        self.db.execute(
            "UPDATE order_lines SET verified = ? WHERE order_id = ? AND line_no = ?",
            [line.verified, order.order_id, line.line_no],
        )

    @staticmethod
    def _order_row(order: Order, now_ms: int) -> dict[str, Any]:
        return {
            "order_id": order.order_id,
            "hub_version": order.hub_version,
            "version": order.version,
            "status": order.status.value,
            "held_from": order.held_from.value if order.held_from else None,
            "bench_id": order.bench_id,
            "packed_by": order.packed_by,
            "carrier": order.carrier,
            "waybill_no": order.waybill_no,
            "channel_order_no": order.channel_order_no,
            "weight_g": order.weight_g,
            "weight_tolerance_g": order.weight_tolerance_g,
            "measured_weight_g": order.measured_weight_g,
            "photo_ref": order.photo_ref,
            "ship_by": order.ship_by,
            "placed_at": order.placed_at,
            "document": json.dumps(order.document, ensure_ascii=False, sort_keys=True),
            "updated_at_ms": now_ms,
            "priority": order.priority,
            "priority_rank": LEVEL_RANK[order.priority],
            "priority_rule": order.priority_rule,
            "priority_override": order.priority_override,
            "deadline_ms": order.deadline_ms,
            "status_since_ms": order.status_since_ms,
        }

    def _insert_lines(self, order: Order) -> None:
        self.db.table("order_lines").insert_all(
            {
                "order_id": order.order_id,
                "line_no": ln.line_no,
                "sku": ln.sku,
                "name": ln.name,
                "barcodes": json.dumps(list(ln.barcodes), ensure_ascii=False),
                "qty": ln.qty,
                "serialized": int(ln.serialized),
                "gift_for": ln.gift_for,
                "verified": ln.verified,
            }
            for ln in order.lines
        )

    # -- serialised units -----------------------------------------------------------------------------------
    def unit_seen(self, order_id: str, unit_key: str) -> bool:
        """True if this unit (GTIN + serial, or a per-unit code) was already verified into the order."""
        sql = "SELECT 1 AS hit FROM verified_units WHERE order_id = ? AND unit_key = ?"
        return self._row(sql, [order_id, unit_key]) is not None

    def record_unit(self, order_id: str, unit_key: str, line_no: int, seq: int) -> None:
        """Remember a verified unit so the same unit cannot count twice."""
        row = {"order_id": order_id, "unit_key": unit_key, "line_no": line_no, "seq": seq}
        self.db.table("verified_units").insert(row)

    def forget_units(self, order_id: str) -> int:
        """Drop the verified units of an order (its items went back to the shelf); return how many."""
        return int(self.db.execute("DELETE FROM verified_units WHERE order_id = ?", [order_id]).rowcount)

    # -- cancellations that arrived before their order ------------------------------------------------------
    def pending_cancellation(self, order_id: str) -> dict[str, Any] | None:
        """A cancellation recorded for an order the station has not received yet."""
        return next(self.db.query("SELECT * FROM pending_cancellations WHERE order_id = ?", [order_id]), None)

    def record_pending_cancellation(self, order_id: str, reason: str, source: str, now_ms: int) -> None:
        """Keep a cancellation for an order not yet received, so that it wins when the order arrives."""
        self.db.table("pending_cancellations").upsert(
            {"order_id": order_id, "reason": reason, "source": source, "recorded_at_ms": now_ms},
            pk="order_id",
        )

    # -- operators ------------------------------------------------------------------------------------------
    def operator(self, badge: str) -> Operator | None:
        """The operator with this badge, active or not."""
        row = self._row("SELECT * FROM operators WHERE badge = ?", [badge])
        if row is None:
            return None
        return Operator(row["badge"], row["name"], Role(row["role"]), bool(row["active"]))

    def upsert_operator(self, op: Operator) -> None:
        """Add or update an operator."""
        self.db.table("operators").upsert(
            {"badge": op.badge, "name": op.name, "role": op.role.value, "active": int(op.active)}, pk="badge"
        )

    # -- benches --------------------------------------------------------------------------------------------
    def bench(self, bench_id: str) -> Bench:
        """The bench's persisted state (a new, idle bench if never seen); a fresh object the caller may change."""
        if self._cache is not None and (cached := self._cache.benches.get(bench_id)) is not None:
            return _bench_from_row(cached)
        cursor = self.db.conn.execute(
            "SELECT bench_id, operator_badge, operator_role, last_activity_ms, order_id, qty_next, "
            "reopen_requested_ms, batch_id, authorisation_for FROM benches WHERE bench_id = ?",
            [bench_id],
        )
        row = cursor.fetchone()
        cursor.close()
        if row is None:
            return Bench(bench_id)
        if self._cache is not None:
            self._cache.benches[bench_id] = tuple(row)
        return _bench_from_row(tuple(row))

    def bench_ids_with_order(self, order_id: str) -> list[str]:
        """Benches that currently show this order."""
        return [r["bench_id"] for r in self.db.query("SELECT bench_id FROM benches WHERE order_id = ?", [order_id])]

    def save_bench(self, bench: Bench) -> None:
        """Persist a bench's state (plain SQL: this runs on every scan)."""
        row = _bench_row(bench)
        if self._cache is not None:
            self._cache.benches[bench.bench_id] = row
        self.db.execute(
            "INSERT INTO benches (bench_id, operator_badge, operator_role, last_activity_ms, order_id, qty_next, "
            "reopen_requested_ms, batch_id, authorisation_for) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (bench_id) "
            "DO UPDATE SET "
            "operator_badge = excluded.operator_badge, operator_role = excluded.operator_role, "
            "last_activity_ms = excluded.last_activity_ms, order_id = excluded.order_id, "
            "qty_next = excluded.qty_next, reopen_requested_ms = excluded.reopen_requested_ms, "
            "batch_id = excluded.batch_id, authorisation_for = excluded.authorisation_for",
            list(row),
        )

    # -- carrier batches ------------------------------------------------------------------------------------
    def batch(self, batch_id: str) -> CarrierBatch | None:
        """A carrier batch by id."""
        row = next(self.db.query("SELECT * FROM carrier_batches WHERE batch_id = ?", [batch_id]), None)
        if row is None:
            return None
        return CarrierBatch(row["batch_id"], row["carrier"], row["bench_id"], row["opened_at_ms"], row["closed_at_ms"])

    def insert_batch(self, batch: CarrierBatch) -> None:
        """Open a carrier batch."""
        self.db.table("carrier_batches").insert(
            {
                "batch_id": batch.batch_id,
                "carrier": batch.carrier,
                "bench_id": batch.bench_id,
                "opened_at_ms": batch.opened_at_ms,
                "closed_at_ms": batch.closed_at_ms,
            }
        )

    def close_batch(self, batch_id: str, now_ms: int) -> int:
        """Close a batch; return how many orders it holds."""
        self.db.execute("UPDATE carrier_batches SET closed_at_ms = ? WHERE batch_id = ?", [now_ms, batch_id])
        row = next(self.db.query("SELECT count(*) AS n FROM batch_orders WHERE batch_id = ?", [batch_id]))
        return int(row["n"])

    def add_to_batch(self, batch_id: str, order_id: str, seq: int) -> None:
        """Record an order handed over in a batch."""
        self.db.table("batch_orders").insert({"batch_id": batch_id, "order_id": order_id, "seq": seq})
