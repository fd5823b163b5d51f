"""The bench: `POST /benches/{bench}/scans` (a scan enters the workflow) and `GET /benches/{bench}/screen` (what
the bench screen shows)."""

import functools
import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from station.api import API_PREFIX
from station.api.context import ApiContext
from station.api.problems import ApiProblem, problem_responses
from station.api.queue_watch import MAX_WAIT_S
from station.api.routes_orders import order_out
from station.api.schemas import BenchScreen, ScanIn, ScanResult, ScreenOperator, ScreenPutBack
from station.api.security import context, require
from station.auth import ApiRole, Principal
from station.orders.revision import outstanding_put_backs

router = APIRouter(prefix=API_PREFIX, tags=["bench"])

BenchId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/benches/{bench}/scans",
    response_model=ScanResult,
    responses=problem_responses(401, 403, 422),
    summary="Post a scan from a bench",
)
async def post_scan(
    bench: BenchId, body: ScanIn, request: Request, caller: Annotated[Principal, Depends(require(ApiRole.BENCH))]
) -> ScanResult:
    """Handle one scan as if read at the bench; the answer says what the packer must be shown.

    A refusal is a normal answer (200) with `outcome: refused` and its `reason`; it is recorded as an event.
    """
    if caller.bench_id != bench:
        raise ApiProblem(403, "wrong_bench")
    ctx = context(request)
    # Posted, not read by the station's own scanner: a supervisor's badge is refused here by default.
    scan = functools.partial(ctx.workflow.handle_scan, via_api=True)
    outcome = await ctx.db(scan, bench, body.code, body.device, body.symbology)
    return ScanResult.model_validate(outcome.as_dict())


def _screen(ctx: ApiContext, bench_id: str) -> BenchScreen:
    """Read on the database thread, where scans are handled: the bench, its operator and order, the last answer."""
    with ctx.store.reading() as repo:
        bench = repo.bench(bench_id)
        operator = repo.operator(bench.operator_badge) if bench.operator_badge else None
        order = repo.order(bench.order_id) if bench.order_id else None
        put_back = outstanding_put_backs(repo.db, order.order_id) if order else []
    last = ctx.workflow.last_answer(bench_id)
    return BenchScreen(
        bench_id=bench_id,
        operator=None
        if bench.operator_badge is None
        else ScreenOperator(
            badge=bench.operator_badge,
            name=operator.name if operator else None,
            role=bench.operator_role.value if bench.operator_role else "packer",
        ),
        order=order_out(order) if order else None,
        answer_no=last[0] if last else 0,
        last=ScanResult.model_validate(last[1].as_dict()) if last else None,
        put_back=[
            ScreenPutBack(line_no=p.line_no, sku=p.sku, name=p.name, qty=p.qty, returned=p.verified) for p in put_back
        ],
    )


@router.get(
    "/benches/{bench}/screen",
    response_model=BenchScreen,
    responses={
        304: {"description": "Not changed since the ETag sent in If-None-Match."},
        **problem_responses(401, 403, 422),
    },
    summary="What the bench screen shows",
)
async def get_screen(
    bench: BenchId,
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(require(ApiRole.BENCH, ApiRole.SUPERVISOR))],
    wait: Annotated[
        int, Query(ge=0, le=MAX_WAIT_S, description="Long-poll: wait up to N s for the screen to change.")
    ] = 0,
    if_none_match: Annotated[str | None, Header(max_length=128)] = None,
) -> BenchScreen | Response:
    """Who is logged in, the order on the bench with each line's count, and the last answer given at the bench
    (its message in zh-CN and English). Send the last `ETag` in `If-None-Match` to get 304 while nothing changed;
    add `?wait=N` to hold the request until something is committed that changes it (or N seconds pass), as the
    bench screen does. A bench token reads its own bench only."""
    if caller.role is ApiRole.BENCH and caller.bench_id != bench:
        raise ApiProblem(403, "wrong_bench")
    ctx = context(request)

    async def answer() -> tuple[str, BenchScreen]:
        screen = await ctx.db(_screen, ctx, bench)
        return '"' + hashlib.sha256(screen.model_dump_json().encode()).hexdigest()[:32] + '"', screen

    etag, screen = await ctx.bench_watch.until_changed(wait, if_none_match, answer)
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return screen
