"""`POST /benches/{bench}/scans`: a scan enters the workflow."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from station.api import API_PREFIX
from station.api.problems import ApiProblem, problem_responses
from station.api.schemas import ScanIn, ScanResult
from station.api.security import context, require
from station.auth import ApiRole, Principal

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
    outcome = await ctx.db(ctx.workflow.handle_scan, bench, body.code, body.device, body.symbology)
    return ScanResult.model_validate(outcome.as_dict())
