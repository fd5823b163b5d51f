"""The PDA queue: `GET /queue`, `GET /queue/top` (ETag, If-None-Match → 304, `?wait=` long-poll), claims;
explicit priority levels and the S-escalation breaker's lift."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from station.api import API_PREFIX
from station.api.context import ApiContext
from station.api.problems import ApiProblem, problem_responses
from station.api.queue_watch import MAX_WAIT_S
from station.api.routes_orders import parse_if_match
from station.api.security import context, require
from station.auth import ApiRole, Principal
from station.priority.prioritizer import lift_breaker, set_priority
from station.priority.queue import (
    claim,
    listing,
    make_entry,
    next_claim_expiry_ms,
    next_sla_change_ms,
    release,
    top_row,
)

router = APIRouter(prefix=API_PREFIX, tags=["queue"])

OrderId = Annotated[str, Path(min_length=1, max_length=64)]


class QueueEntryOut(BaseModel):
    """An order in the queue with its countdown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": "SO20261122-0004",
                    "level": "S",
                    "rule": "vip_big_order",
                    "status": "pending",
                    "version": 2,
                    "deadline": "2026-11-22T07:00:00+00:00",
                    "seconds_left": 4980,
                    "sla": "red",
                    "received_at": "2026-11-22T02:30:00+00:00",
                    "claimed_by": None,
                    "claim_expires_at": None,
                    "why": ["level S (vip_big_order)", "deadline in 1 h 23 min (red)", "waiting 12 min"],
                }
            ]
        }
    )

    order_id: str
    level: str
    rule: str
    status: str
    version: int
    deadline: str | None
    seconds_left: int | None = Field(description="From the station's clock; see clock_synced.")
    sla: str = Field(description="red | orange | yellow | green | none")
    received_at: str
    claimed_by: str | None
    claim_expires_at: str | None
    why: list[str] = Field(description="Why this order is where it is.")


class TopOut(BaseModel):
    """The one order a PDA should work next (or none)."""

    order: QueueEntryOut | None
    now: str = Field(description="The station's time of this answer.")
    clock_synced: bool = Field(
        description="False: the station's clock is not known to be right; treat countdowns as approximate."
    )


class QueuePage(BaseModel):
    """A page of the queue."""

    total: int
    limit: int
    offset: int
    clock_synced: bool
    orders: list[QueueEntryOut]


class PriorityIn(BaseModel):
    """An explicit level (null returns the order to its rules)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"level": "A"}]})

    level: Literal["S", "A", "B", "C"] | None


class PriorityOut(BaseModel):
    """The order's level after the change."""

    order_id: str
    level: str
    version: int


class ClaimOut(BaseModel):
    """A claim held until `expires_at`."""

    order_id: str
    pda: str
    expires_at: str | None


def _pda_id(caller: Principal) -> str:
    return caller.token_id or caller.name


def _empty_etag(clock_synced: bool) -> str:
    return '"empty"' if clock_synced else '"empty-unsynced"'


async def _current_top(ctx: ApiContext, pda: str) -> tuple[dict[str, Any] | None, int]:
    """The PDA's top row (cached per queue generation) and the time of the answer."""
    now = ctx.store.wall_ms()
    generation = ctx.queue_watch.generation
    hit, row = ctx.queue_watch.cached(pda)
    if hit:
        return row, now

    def compute() -> tuple[dict[str, Any] | None, int | None]:
        with ctx.store.reading() as repo:
            return top_row(repo.db, pda, now), next_claim_expiry_ms(repo.db, now)

    row, claim_expiry = await ctx.db(compute)
    changes = [t for t in (claim_expiry, next_sla_change_ms(row, now, ctx.settings.priority) if row else None) if t]
    ctx.queue_watch.store(pda, generation, row, min(changes) if changes else now + 3_600_000)
    return row, now


@router.get(
    "/queue/top",
    response_model=TopOut,
    responses={
        304: {"description": "Not modified: the top is still the one your ETag names."},
        **problem_responses(401, 403, 422),
    },
    summary="The order to work next",
)
async def get_top(
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(require(ApiRole.PDA, ApiRole.SUPERVISOR))],
    wait: Annotated[
        int, Query(ge=0, le=MAX_WAIT_S, description="Long-poll: wait up to N s for the top to change.")
    ] = 0,
    if_none_match: Annotated[str | None, Header(max_length=128)] = None,
) -> Any:
    """The one pending order this PDA should work next (not claimed by another PDA), with level, deadline,
    seconds left, SLA colour and why it is on top. Send the last `ETag` in `If-None-Match` to get 304 when
    nothing changed; add `?wait=N` to hold the request until it changes (or N seconds pass)."""
    ctx = context(request)
    pda = _pda_id(caller)

    async def answer() -> tuple[str, tuple[Any, int, bool]]:
        row, now = await _current_top(ctx, pda)
        synced = ctx.store.sync_state.is_synced()
        entry = make_entry(row, now, ctx.settings.priority) if row else None
        return (entry.etag(synced) if entry else _empty_etag(synced)), (entry, now, synced)

    etag, (entry, now, synced) = await ctx.queue_watch.until_changed(wait, if_none_match, answer)
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return TopOut(
        order=QueueEntryOut.model_validate(entry.as_dict()) if entry else None,
        now=make_now(now),
        clock_synced=synced,
    )


def make_now(ms: int) -> str:
    """ISO time of the station's clock."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


@router.get("/queue", response_model=QueuePage, responses=problem_responses(401, 403, 422), summary="The queue")
async def get_queue(
    request: Request,
    _: Annotated[Principal, Depends(require(ApiRole.PDA, ApiRole.SUPERVISOR, ApiRole.HUB))],
    status: Annotated[
        Literal["pending", "packing", "packed", "labeled", "handed_over", "on_hold", "cancelled"], Query()
    ] = "pending",
    level: Annotated[Literal["S", "A", "B", "C"] | None, Query()] = None,
    sla: Annotated[Literal["red", "orange", "yellow", "green", "none"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> QueuePage:
    """Orders in queue order (level, deadline, arrival), filtered by status (any, the final ones included),
    level and SLA colour."""
    ctx = context(request)
    now = ctx.store.wall_ms()

    def page() -> tuple[list[Any], int]:
        with ctx.store.reading() as repo:
            return listing(
                repo.db, now, ctx.settings.priority, status=status, level=level, sla=sla, limit=limit, offset=offset
            )

    entries, total = await ctx.db(page)
    return QueuePage(
        total=total,
        limit=limit,
        offset=offset,
        clock_synced=ctx.store.sync_state.is_synced(),
        orders=[QueueEntryOut.model_validate(e.as_dict()) for e in entries],
    )


@router.post(
    "/queue/{order_id:order_id}/claim",
    response_model=ClaimOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Claim an order",
)
async def post_claim(
    order_id: OrderId, request: Request, caller: Annotated[Principal, Depends(require(ApiRole.PDA))]
) -> ClaimOut:
    """Hold a pending order for this PDA for the lease time (claiming again renews it). Another PDA's live
    claim is a 409."""
    ctx = context(request)
    pda = _pda_id(caller)
    result = await ctx.db(claim, ctx.store, order_id, pda, ctx.settings.priority, caller.actor("pda"))
    if result.refusal == "unknown_order":
        raise ApiProblem(404, "order_not_found")
    if result.refusal is not None:
        raise ApiProblem(409, result.refusal)
    return ClaimOut(
        order_id=order_id, pda=pda, expires_at=make_now(result.expires_at_ms) if result.expires_at_ms else None
    )


@router.post(
    "/queue/{order_id:order_id}/release",
    response_model=ClaimOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Give back a claim",
)
async def post_release(
    order_id: OrderId, request: Request, caller: Annotated[Principal, Depends(require(ApiRole.PDA))]
) -> ClaimOut:
    """Release this PDA's claim before the lease ends."""
    ctx = context(request)
    pda = _pda_id(caller)
    result = await ctx.db(release, ctx.store, order_id, pda, caller.actor("pda"))
    if result.refusal is not None:
        raise ApiProblem(409, result.refusal)
    return ClaimOut(order_id=order_id, pda=pda, expires_at=None)


@router.post(
    "/orders/{order_id:order_id}/priority",
    response_model=PriorityOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    tags=["orders"],
    summary="Set an order's level",
)
async def post_priority(
    order_id: OrderId,
    body: PriorityIn,
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
    if_match: Annotated[str, Header(max_length=64, description="The order version you read (its ETag).")],
) -> PriorityOut:
    """An explicit level wins over the rules (null hands the order back to them). While the S breaker is
    tripped, a new S is refused (409 `s_breaker_tripped`) until a supervisor lifts it."""
    expected = parse_if_match(if_match)
    ctx = context(request)
    result = await ctx.db(
        set_priority, ctx.store, order_id, body.level, caller.actor("web"), ctx.settings.priority, expected
    )
    if result.refusal == "unknown_order":
        raise ApiProblem(404, "order_not_found")
    if result.refusal is not None:
        raise ApiProblem(409, result.refusal)
    assert result.level is not None
    assert result.version is not None
    response.headers["ETag"] = f'"{result.version}"'
    return PriorityOut(order_id=order_id, level=result.level, version=result.version)


@router.post(
    "/priority/breaker/lift",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 409),
    tags=["operations"],
    summary="Lift the S-escalation breaker",
)
async def post_lift_breaker(
    request: Request, caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR))]
) -> Response:
    """A supervisor allows new S escalations again before the breaker's time is up."""
    ctx = context(request)
    if not await ctx.db(lift_breaker, ctx.store, caller.actor("web")):
        raise ApiProblem(409, "breaker_not_tripped")
    return Response(status_code=204)
