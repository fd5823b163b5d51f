"""Finding any order: `GET /orders` searches by every number an order has, or lists orders in any status."""

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from station.api import API_PREFIX
from station.api.problems import ApiProblem, problem_responses
from station.api.schemas import OrderMatchOut, OrderPageOut, OrderSummaryOut
from station.api.security import context, require
from station.auth import ApiRole, Principal
from station.orders.model import STATUS_LABELS, Status
from station.scan import ScanRules, interpret
from station.store.search import BadCursor, OrderFilter, OrderPage, OrderSummary, SearchTerm, Sort, find_orders

router = APIRouter(prefix=API_PREFIX, tags=["orders"])

# Longer than any number an order has (ids, channel numbers and waybills ≤ 64, unit codes ≤ 128).
SEARCH_MAX_CHARS = 128
# Blanks around a pasted number are not part of it (an IME's ideographic space included); other blanks are kept.
_SURROUNDING_BLANKS = " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Control, format (zero-width, bidi) and surrogate characters, and the line and paragraph separators: no number
# contains them, and a format character would make a shown number differ from the one searched for.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

StatusCode = Literal["pending", "packing", "packed", "labeled", "handed_over", "on_hold", "cancelled"]


def search_term(q: str) -> SearchTerm:
    """The search a `q` asks for, or a 422 problem saying in the caller's language what is wrong with it."""
    if len(q) > SEARCH_MAX_CHARS:
        raise ApiProblem(422, "search_too_long", [f"query.q: {len(q)} characters, at most {SEARCH_MAX_CHARS}"])
    for position, char in enumerate(q):
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ApiProblem(
                422, "search_control_characters", [f"query.q: U+{ord(char):04X} at position {position + 1}"]
            )
    text = q.strip(_SURROUNDING_BLANKS)
    if not text:
        raise ApiProblem(422, "search_empty", ["query.q: nothing but blanks"])
    try:
        return SearchTerm.parse(text)
    except ValueError as err:
        raise ApiProblem(422, "search_prefix_too_short", [f"query.q: {err}"]) from err


def unit_keys(text: str, rules: ScanRules) -> list[str]:
    """The unit codes a scanned serialised item stands for (`GTIN-14/serial`, as the bench records them), so that
    a unit's GS1 code typed or scanned into the search box finds the order it was packed into."""
    reading = interpret(text, rules)
    keys = []
    for candidate in (reading, *reading.alternatives):
        item = candidate.item
        if item is not None and item.serial:
            keys.append(f"{item.gtin14 or item.code}/{item.serial}")
    return keys


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def summary_out(order: OrderSummary) -> OrderSummaryOut:
    """The API view of an order in a list."""
    return OrderSummaryOut(
        order_id=order.order_id,
        status=order.status.value,
        status_label=STATUS_LABELS[order.status],
        version=order.version,
        level=order.level,
        carrier=order.carrier,
        waybill_no=order.waybill_no,
        channel_order_no=order.channel_order_no,
        bench_id=order.bench_id,
        ship_by=order.ship_by,
        received_at=_iso(order.received_at_ms),
        status_since=_iso(order.status_since_ms),
        matches=[OrderMatchOut(by=m.by.value, value=m.value) for m in order.matches],
    )


@router.get(
    "/orders",
    response_model=OrderPageOut,
    responses=problem_responses(401, 403, 422),
    summary="Find or list orders",
)
async def get_orders(
    request: Request,
    _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
    q: Annotated[
        str | None,
        Query(
            description="Any number of the order: its id, the channel's order number, the waybill, a line's SKU, "
            "or a verified unit's code (a GS1 code with a serial too). Exact; end it with `*` for a prefix "
            f"(at least 3 characters before it). At most {SEARCH_MAX_CHARS} characters, no control characters.",
        ),
    ] = None,
    status: Annotated[StatusCode | None, Query(description="Only orders in this status.")] = None,
    carrier: Annotated[str | None, Query(min_length=1, max_length=16, description="Only this carrier's.")] = None,
    bench: Annotated[str | None, Query(min_length=1, max_length=32, description="Only orders on this bench.")] = None,
    level: Annotated[Literal["S", "A", "B", "C"] | None, Query(description="Only this priority level.")] = None,
    sort: Annotated[
        Literal["newest", "queue"],
        Query(description="newest: by arrival, newest first; queue: the queue's order (needs a status)."),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=100, description="`next_cursor` of the previous page.")
    ] = None,
) -> OrderPageOut:
    """Orders in any status, a page at a time: every order, or those `q` finds by any of their numbers (each
    number through its own index), narrowed by status, carrier, bench and level. A search says for each order
    what it was found by (`matches`)."""
    ctx = context(request)
    term = search_term(q) if q is not None else None
    if sort == "queue" and status is None:
        raise ApiProblem(422, "queue_order_needs_status", ["query.sort: queue order is within one status"])
    wanted = OrderFilter(
        term=term,
        unit_keys=unit_keys(term.text, ctx.settings.scan) if term is not None and not term.prefix else (),
        status=Status(status) if status else None,
        carrier=carrier.upper() if carrier else None,  # carriers are kept upper-cased (intake)
        bench_id=bench,
        level=level,
        sort=Sort(sort),
    )

    def page() -> OrderPage:
        with ctx.store.reading() as repo:
            return find_orders(repo.db, wanted, limit=limit, cursor=cursor)

    try:
        found = await ctx.db(page)
    except BadCursor as err:
        raise ApiProblem(422, "bad_cursor", ["query.cursor: not a cursor of this listing"]) from err
    return OrderPageOut(orders=[summary_out(o) for o in found.orders], next_cursor=found.next_cursor)
