"""Labels: an order's print jobs, audited reprints, settling a job in doubt, and the label preview as PNG."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from station.api import API_PREFIX
from station.api.problems import ApiProblem, problem_responses
from station.api.routes_orders import parse_if_match
from station.api.schemas import AuditReason
from station.api.security import context, require
from station.api.versioned import reprint_at_version
from station.auth import ApiRole, Principal
from station.orders.model import Order
from station.printing import (
    LabelDataError,
    PreviewUnavailable,
    PrintRequest,
    jobs_for_order,
    request_reprint,
    resolve_unknown,
)
from station.store import Store

router = APIRouter(prefix=API_PREFIX, tags=["labels"])

OrderId = Annotated[str, Path(min_length=1, max_length=64, description="The order id, e.g. SO20260205-8821.")]
JobId = Annotated[str, Path(min_length=1, max_length=64, description="A print job id (UUIDv7).")]
_NOT_FOUND = {"unknown_order", "unknown_job"}
PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "The label, one pixel per printer dot."}
}


class ReprintIn(BaseModel):
    """A reprint request: why, and whether to make the label again from the order's current data."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "label torn", "rerender": False}]}
    )

    reason: AuditReason = Field(description="Why the label is printed again (audited).")
    rerender: bool = Field(False, description="Make it from the order now instead of repeating the printed label.")


class ResolveIn(BaseModel):
    """A person's word on a print job the printer could not vouch for."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"printed": True, "reason": "on the box"}]}
    )

    printed: bool = Field(description="True: the label came out (the job becomes done); False: it did not.")
    reason: AuditReason = Field(description="What the person saw (audited).")


class PrintRequestOut(BaseModel):
    """The job a request created or settled, and the event that recorded it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": "019c1c38-a400-7551-8bb0-cf9a50ff1ee0", "seq": 120}]}
    )

    job_id: str = Field(description="The print job.")
    seq: int | None = Field(description="The event that recorded the request.")


class PrintJobOut(BaseModel):
    """One print job of an order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "019c1c38-a400-7551-8bb0-cf9a50ff1ee0",
                    "printer": "printer",
                    "order_id": "SO20260205-8821",
                    "kind": "label",
                    "state": "done",
                    "labels": 1,
                    "attempts": 1,
                    "retryable": False,
                    "reason": None,
                    "detail": None,
                    "odometer_before": 48212,
                    "odometer_after": 48213,
                    "requested_by": None,
                    "requested_role": None,
                    "request_reason": None,
                    "created_at_ms": 1770000000000,
                    "updated_at_ms": 1770000001200,
                    "sent_at_ms": 1770000000100,
                    "finished_at_ms": 1770000001200,
                }
            ]
        }
    )

    job_id: str
    printer: str
    order_id: str | None
    kind: str = Field(description="label, reprint or sscc.")
    state: str = Field(description="queued, sending, done, failed or unknown.")
    labels: int
    attempts: int
    retryable: bool = Field(description="Failed without being sent: retried when the printer is ready.")
    reason: str | None
    detail: str | None
    odometer_before: int | None
    odometer_after: int | None
    requested_by: str | None
    requested_role: str | None
    request_reason: str | None
    created_at_ms: int
    updated_at_ms: int
    sent_at_ms: int | None
    finished_at_ms: int | None


def _answer(result: PrintRequest) -> PrintRequestOut:
    if result.refusal in _NOT_FOUND:
        raise ApiProblem(404, "order_not_found" if result.refusal == "unknown_order" else "not_found")
    if result.refusal is not None:
        raise ApiProblem(409, result.refusal)
    assert result.job_id is not None
    return PrintRequestOut(job_id=result.job_id, seq=result.seq)


@router.get(
    "/orders/{order_id:order_id}/labels",
    response_model=list[PrintJobOut],
    responses=problem_responses(401, 403, 422),
    summary="An order's print jobs",
)
async def get_labels(
    order_id: OrderId,
    request: Request,
    _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
) -> list[PrintJobOut]:
    """Every print job of the order, oldest first: first label, reprints, SSCC labels."""
    ctx = context(request)
    jobs = await ctx.db(jobs_for_order, ctx.store, order_id)
    return [PrintJobOut.model_validate(j.as_dict()) for j in jobs]


@router.post(
    "/orders/{order_id:order_id}/label/reprint",
    response_model=PrintRequestOut,
    status_code=202,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Reprint an order's shipping label (audited)",
)
async def post_reprint(
    order_id: OrderId,
    body: ReprintIn,
    request: Request,
    caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
    if_match: Annotated[
        str | None,
        Header(
            max_length=64,
            description="Optional: the order version you read (its ETag). If the order changed "
            "since, the answer is 409 `version_conflict` and nothing is queued.",
        ),
    ] = None,
) -> PrintRequestOut:
    """Queue the label again; who asked and why are recorded. Refused while a label for the order is still
    queued or printing (`label_in_progress`), or when the order has no box to label (`order_not_packed`)."""
    ctx = context(request)
    if ctx.printing is None:
        raise ApiProblem(409, "no_printer")
    if if_match is not None:
        expected = parse_if_match(if_match)
        queued, stale = await ctx.db(
            reprint_at_version,
            ctx.store,
            order_id,
            caller.actor("web"),
            body.reason,
            expected_version=expected,
            rerender=body.rerender,
            printer=ctx.printing.name,
        )
        if stale is not None:
            if stale.refusal == "unknown_order":
                raise ApiProblem(404, "order_not_found")
            raise ApiProblem(409, str(stale.refusal), headers={"ETag": f'"{stale.version}"'})
        assert queued is not None
        return _answer(queued)
    result = await ctx.db(
        request_reprint,
        ctx.store,
        order_id,
        caller.actor("web"),
        body.reason,
        rerender=body.rerender,
        printer=ctx.printing.name,
    )
    return _answer(result)


@router.post(
    "/print-jobs/{job_id}/resolve",
    response_model=PrintRequestOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Settle a print job in doubt (audited)",
)
async def post_resolve(
    job_id: JobId,
    body: ResolveIn,
    request: Request,
    caller: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
) -> PrintRequestOut:
    """A person looked at the printer: did the label of this `unknown` job come out?"""
    ctx = context(request)
    result = await ctx.db(
        resolve_unknown, ctx.store, job_id, caller.actor("web"), printed=body.printed, reason=body.reason
    )
    return _answer(result)


def _read_order(store: Store, order_id: str) -> Order | None:
    with store.reading() as repo:
        return repo.order(order_id)


@router.get(
    "/orders/{order_id:order_id}/label.png",
    response_class=Response,
    responses=PNG_RESPONSE | problem_responses(401, 403, 404, 409, 422),
    summary="An order's label as PNG",
)
async def get_label_png(
    order_id: OrderId,
    request: Request,
    _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))],
) -> Response:
    """The label last sent to the printer, or the one the order would get now; rendered on the station."""
    ctx = context(request)
    if ctx.printing is None:
        raise ApiProblem(409, "no_printer")
    order = await ctx.db(_read_order, ctx.store, order_id)
    if order is None:
        raise ApiProblem(404, "order_not_found")
    printing = ctx.printing
    try:
        # Rendering is CPU work: the default executor, not the database thread.
        png: Any = await asyncio.get_running_loop().run_in_executor(None, printing.preview_png, order)
    except PreviewUnavailable as err:
        raise ApiProblem(409, "preview_unavailable", [str(err)]) from err
    except LabelDataError as err:
        raise ApiProblem(409, "label_unavailable", [str(err)]) from err
    return Response(content=png, media_type="image/png")
