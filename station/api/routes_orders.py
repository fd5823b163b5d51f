"""Orders: read one, its timeline, and supervisor actions guarded by `If-Match` on the order version (hold,
release, reopen, abort, and a supervisor's cancellation)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from station.api import API_PREFIX
from station.api.problems import ApiProblem, problem_responses
from station.api.schemas import ActionIn, ActionOut, EventOut, LineOut, OrderOut, TimelineOut
from station.api.security import context, require
from station.api.versioned import cancel_at_station
from station.auth import ApiRole, Principal
from station.orders.actions import ActionResult, perform_action
from station.orders.lifecycle import Action
from station.orders.model import STATUS_LABELS, Order
from station.store import Store

router = APIRouter(prefix=API_PREFIX, tags=["orders"])

OrderId = Annotated[str, Path(min_length=1, max_length=64, description="The order id, e.g. SO20260205-8821.")]
ACTIONS = {"hold": Action.HOLD, "release": Action.RELEASE, "reopen": Action.REOPEN, "abort": Action.ABORT}


def _read_order(store: Store, order_id: str) -> Order | None:
    with store.reading() as repo:
        return repo.order(order_id)


def order_out(order: Order) -> OrderOut:
    """The API view of an order."""
    return OrderOut(
        order_id=order.order_id,
        status=order.status.value,
        status_label=STATUS_LABELS[order.status],
        version=order.version,
        hub_version=order.hub_version,
        bench_id=order.bench_id,
        carrier=order.carrier,
        waybill_no=order.waybill_no,
        weight_g=order.weight_g,
        measured_weight_g=order.measured_weight_g,
        ship_by=order.ship_by,
        lines=[
            LineOut(
                line_no=ln.line_no,
                sku=ln.sku,
                name=ln.name,
                qty=ln.qty,
                verified=ln.verified,
                serialized=ln.serialized,
                gift_for=ln.gift_for,
            )
            for ln in order.lines
        ],
    )


def _etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str) -> int:
    """The order version named by an If-Match header (409 if it names none)."""
    tag = value.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ApiProblem(409, "version_conflict", [f"If-Match: {value[:40]!r} is not an order version"])
    return int(tag)


@router.get(
    "/orders/{order_id:order_id}",
    response_model=OrderOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Read an order",
)
async def get_order(
    order_id: OrderId,
    request: Request,
    response: Response,
    _: Annotated[Principal, Depends(require(ApiRole.BENCH, ApiRole.SUPERVISOR, ApiRole.HUB))],
) -> OrderOut:
    """The order with its status, `version` (also the `ETag`) and each line's `qty` and `verified`."""
    ctx = context(request)
    order = await ctx.db(_read_order, ctx.store, order_id)
    if order is None:
        raise ApiProblem(404, "order_not_found")
    response.headers["ETag"] = _etag(order.version)
    return order_out(order)


@router.get(
    "/orders/{order_id:order_id}/timeline",
    response_model=TimelineOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="An order's timeline",
)
async def get_timeline(
    order_id: OrderId,
    request: Request,
    _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
) -> TimelineOut:
    """Every event of the order — scans, refusals, status changes — in sequence."""
    ctx = context(request)
    events = await ctx.db(ctx.store.events_for_order, order_id)
    if not events:
        raise ApiProblem(404, "order_not_found")
    return TimelineOut(order_id=order_id, events=[EventOut.model_validate(e) for e in events])


def action_answer(result: ActionResult, response: Response) -> ActionOut:
    """The answer to an order action: the order after it, or the refusal as a problem (409 with the order's
    current ETag, so a client can read the order again; 404 for an unknown order)."""
    if result.refusal == "unknown_order":
        raise ApiProblem(404, "order_not_found")
    if result.refusal is not None:
        headers = {"ETag": _etag(result.version)} if result.version is not None else None
        raise ApiProblem(409, result.refusal, headers=headers)
    assert result.status is not None
    assert result.version is not None
    assert result.seq is not None
    response.headers["ETag"] = _etag(result.version)
    return ActionOut(order_id=result.order_id, status=result.status.value, version=result.version, seq=result.seq)


# Declared before the generic action route, which would otherwise take the path and refuse `cancel` as invalid.
@router.post(
    "/orders/{order_id:order_id}/actions/cancel",
    response_model=ActionOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Cancel an order at the station (supervisor)",
)
async def post_cancel(
    order_id: OrderId,
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR))],
    if_match: Annotated[str, Header(max_length=64, description='The order version you read (its ETag), e.g. "4".')],
    body: ActionIn | None = None,
) -> ActionOut:
    """Cancel the order, with a reason (409 `reason_required` without one). An order at a bench is intercepted
    there as a hub cancellation is: the bench sounds the `blocked` alarm and refuses every further scan for the
    order (`order_cancelled`). `If-Match` must carry the version you read (409 `version_conflict` otherwise,
    recorded)."""
    expected = parse_if_match(if_match)
    ctx = context(request)
    result = await ctx.db(
        cancel_at_station,
        ctx.store,
        order_id,
        caller.actor("web"),
        reason=body.reason if body else None,
        expected_version=expected,
    )
    return action_answer(result, response)


@router.post(
    "/orders/{order_id:order_id}/actions/{action}",
    response_model=ActionOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Hold, release, reopen or abort an order",
)
async def post_action(
    order_id: OrderId,
    action: Annotated[str, Path(pattern="^(hold|release|reopen|abort)$")],
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
    if_match: Annotated[str, Header(max_length=64, description='The order version you read (its ETag), e.g. "4".')],
    body: ActionIn | None = None,
) -> ActionOut:
    """Apply a supervisor action. `If-Match` must carry the version you read; if the order changed since,
    the answer is 409 and nothing is applied (the refusal is recorded)."""
    expected = parse_if_match(if_match)
    ctx = context(request)
    reason = body.reason if body else None
    result = await ctx.db(
        perform_action,
        ctx.store,
        order_id,
        ACTIONS[action],
        caller.actor("web"),
        reason=reason,
        expected_version=expected,
    )
    return action_answer(result, response)
