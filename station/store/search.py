"""Finding orders for the supervisor: by any number an order is known by, or listed by status and filters.

Read-only queries over a `sqlite_utils.Database`, run inside `Store.reading()`. Every number is found through
its own index (migration 11): the order id (primary key), the channel's order number, the waybill, a line's
SKU and a verified unit's code. A search is exact; a trailing `*` makes it a prefix search, done as a range on
the same index (`col >= prefix AND col < successor`) rather than `LIKE`, which SQLite serves from an index only
under a case-insensitive collation these indexes do not have.

Pages run newest first by `rowid`, which for `orders` is the order of arrival: orders are never deleted and
the station never runs VACUUM, so SQLite hands out ever larger rowids. That order is served by the table itself
and, with a status, by `orders_by_status` (whose entries end in the rowid), so a page costs its own rows and not
a sort of every order the station ever received. Queue order is served by `orders_queue` for one status.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlite_utils

from station.orders.model import Status

# A search must end with this to be a prefix search, and say at least PREFIX_MIN characters before it: a shorter
# prefix (one letter of a SKU) would match a large part of the station's history and tell the supervisor little.
PREFIX_MARK = "*"
PREFIX_MIN = 3


class MatchedBy(StrEnum):
    """Which of an order's numbers a search found it by."""

    ORDER_ID = "order_id"
    CHANNEL_ORDER_NO = "channel_order_no"
    WAYBILL_NO = "waybill_no"
    SKU = "sku"
    UNIT = "unit"


class Sort(StrEnum):
    """The order of a page."""

    NEWEST = "newest"  # arrival at the station, newest first
    QUEUE = "queue"  # the PDA queue's order: level, deadline, arrival (needs one status)


# Each number: the table and column it lives in (each column has an index), in the order results name them.
_NUMBERS: tuple[tuple[MatchedBy, str, str], ...] = (
    (MatchedBy.ORDER_ID, "orders", "order_id"),
    (MatchedBy.CHANNEL_ORDER_NO, "orders", "channel_order_no"),
    (MatchedBy.WAYBILL_NO, "orders", "waybill_no"),
    (MatchedBy.SKU, "order_lines", "sku"),
    (MatchedBy.UNIT, "verified_units", "unit_key"),
)


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """What to look for: one exact text, or a prefix. Build it with `SearchTerm.parse`."""

    text: str
    prefix: bool = False

    @staticmethod
    def parse(query: str) -> "SearchTerm":
        """`SF123*` is a prefix search for SF123, anything else an exact one. Raises ValueError for a prefix
        shorter than `PREFIX_MIN` characters; checking for control characters and length is the caller's."""
        if query.endswith(PREFIX_MARK):
            stem = query[: -len(PREFIX_MARK)]
            if len(stem) < PREFIX_MIN:
                raise ValueError(f"a prefix search needs at least {PREFIX_MIN} characters before '{PREFIX_MARK}'")
            return SearchTerm(stem, prefix=True)
        return SearchTerm(query)

    def condition(self, column: str) -> tuple[str, list[Any]]:
        """The WHERE condition on `column` and its parameters; both forms are a search of the column's index."""
        if not self.prefix:
            return f"{column} = ?", [self.text]
        end = _successor(self.text)
        if end is None:  # every character is the last code point: nothing sorts after the prefix
            return f"{column} >= ?", [self.text]
        return f"{column} >= ? AND {column} < ?", [self.text, end]


def _successor(prefix: str) -> str | None:
    """The smallest text greater than every text that starts with `prefix`, under SQLite's BINARY collation.

    BINARY compares UTF-8 bytes, and UTF-8 keeps code point order, so bumping the last code point works; the
    surrogates cannot be encoded and are stepped over.
    """
    for cut in range(len(prefix), 0, -1):
        following = ord(prefix[cut - 1]) + 1
        if 0xD800 <= following <= 0xDFFF:
            following = 0xE000
        if following <= 0x10FFFF:
            return prefix[: cut - 1] + chr(following)
    return None


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a page holds: a search (or none: every order), narrowed by status, carrier, bench, level."""

    term: SearchTerm | None = None
    unit_keys: Sequence[str] = ()  # more unit codes the search stands for (a scanned GS1 code's GTIN/serial)
    status: Status | None = None
    carrier: str | None = None
    bench_id: str | None = None
    level: str | None = None
    sort: Sort = Sort.NEWEST


@dataclass(frozen=True, slots=True)
class Match:
    """One number that made the search find the order, e.g. (waybill_no, SF1234567890123)."""

    by: MatchedBy
    value: str


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """An order as a list shows it."""

    order_id: str
    status: Status
    version: int
    level: str
    carrier: str | None
    waybill_no: str | None
    channel_order_no: str | None
    bench_id: str | None
    ship_by: str | None
    received_at_ms: int
    status_since_ms: int
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of orders and the cursor of the next one (None: this is the last)."""

    orders: list[OrderSummary] = field(default_factory=list)
    next_cursor: str | None = None


class BadCursor(ValueError):
    """A cursor that no page of this sort handed out."""


_SUMMARY_COLUMNS = (
    "o.order_id, o.status, o.version, o.priority, o.carrier, o.waybill_no, o.channel_order_no, o.bench_id, "
    "o.ship_by, o.received_at_ms, o.status_since_ms, o.rowid AS row_no, o.priority_rank, o.deadline_ms"
)


def find_orders(db: sqlite_utils.Database, wanted: OrderFilter, *, limit: int, cursor: str | None = None) -> OrderPage:
    """A page of the orders `wanted` describes, at most `limit`, after `cursor` (from the previous page).

    Raises `BadCursor` for a cursor this sort did not hand out, and ValueError for queue order without a status
    (the queue is ordered within one status; across all of them it would be a sort of every order).
    """
    if wanted.sort is Sort.QUEUE and wanted.status is None:
        raise ValueError("queue order needs a status")
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("o.status", wanted.status.value if wanted.status else None),
        ("o.carrier", wanted.carrier),
        ("o.bench_id", wanted.bench_id),
        ("o.priority", wanted.level),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    after, after_params = _after(wanted.sort, cursor)
    if after:
        where.append(after)
        params += after_params
    order_by = (
        "o.priority_rank, o.deadline_ms, o.received_at_ms, o.rowid" if wanted.sort is Sort.QUEUE else "o.rowid DESC"
    )
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    if wanted.term is None:
        sql = f"SELECT {_SUMMARY_COLUMNS}, NULL AS matches FROM orders o {clause} ORDER BY {order_by} LIMIT ?"  # noqa: S608
        rows = list(db.query(sql, [*params, limit + 1]))
    else:
        hits, hit_params = hits_query(wanted.term, wanted.unit_keys)
        sql = (
            f"WITH hits(order_id, by, value) AS ({hits}) "  # noqa: S608
            f"SELECT {_SUMMARY_COLUMNS}, json_group_array(json_array(h.by, h.value)) AS matches "
            f"FROM hits h JOIN orders o ON o.order_id = h.order_id {clause} "
            f"GROUP BY o.order_id ORDER BY {order_by} LIMIT ?"
        )
        rows = list(db.query(sql, [*hit_params, *params, limit + 1]))
    more = len(rows) > limit
    page = [_summary(r) for r in rows[:limit]]
    return OrderPage(page, _cursor(wanted.sort, rows[limit - 1]) if more else None)


def hits_query(term: SearchTerm, unit_keys: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """The compound SELECT of (order_id, by, value) for every number `term` names, one index search per number;
    `unit_keys` are looked up exactly as unit codes besides. Public so that a test can EXPLAIN it."""
    parts: list[str] = []
    params: list[Any] = []
    for by, table, column in _NUMBERS:
        condition, values = term.condition(column)
        # Table, column and label come from `_NUMBERS`, never from the request; the text is a parameter.
        parts.append(f"SELECT order_id, '{by.value}', {column} FROM {table} WHERE {condition}")  # noqa: S608
        params += values
    for key in dict.fromkeys(k for k in unit_keys if k != term.text or term.prefix):
        parts.append("SELECT order_id, 'unit', unit_key FROM verified_units WHERE unit_key = ?")
        params.append(key)
    return " UNION ALL ".join(parts), params


def _after(sort: Sort, cursor: str | None) -> tuple[str, list[Any]]:
    """The condition that starts a page after the row the cursor names."""
    if cursor is None:
        return "", []
    kind, _, rest = cursor.partition(".")
    try:
        numbers = [int(n) for n in rest.split(".")]
    except ValueError as err:
        raise BadCursor(cursor) from err
    if any(not -(2**63) <= n < 2**63 for n in numbers):  # what SQLite's integers hold
        raise BadCursor(cursor)
    if sort is Sort.NEWEST and kind == "n" and len(numbers) == 1:
        return "o.rowid < ?", numbers
    if sort is Sort.QUEUE and kind == "q" and len(numbers) == 4:
        # A row value: SQLite compares it column by column and can start the index search at it.
        return "(o.priority_rank, o.deadline_ms, o.received_at_ms, o.rowid) > (?, ?, ?, ?)", numbers
    raise BadCursor(cursor)


def _cursor(sort: Sort, row: dict[str, Any]) -> str:
    """The cursor naming the last row of a page: its place in the sort, as plain numbers."""
    if sort is Sort.QUEUE:
        return f"q.{row['priority_rank']}.{row['deadline_ms']}.{row['received_at_ms']}.{row['row_no']}"
    return f"n.{row['row_no']}"


def _summary(row: dict[str, Any]) -> OrderSummary:
    matches: dict[Match, None] = {}  # in the order found, each once (a SKU on two lines is one match)
    for by, value in json.loads(row["matches"]) if row["matches"] else ():
        matches[Match(MatchedBy(by), str(value))] = None
    return OrderSummary(
        order_id=row["order_id"],
        status=Status(row["status"]),
        version=row["version"],
        level=row["priority"],
        carrier=row["carrier"],
        waybill_no=row["waybill_no"],
        channel_order_no=row["channel_order_no"],
        bench_id=row["bench_id"],
        ship_by=row["ship_by"],
        received_at_ms=row["received_at_ms"],
        status_since_ms=row["status_since_ms"],
        matches=tuple(sorted(matches, key=lambda m: list(MatchedBy).index(m.by))),
    )
