"""Packing video: an order's clip (HTTP Range, or made on demand), its markers, packing photos, the signed
evidence bundle, and the dispute flag that keeps them."""

import asyncio
import re
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import FileResponse

from station.api import API_PREFIX
from station.api.problems import ApiProblem, problem_responses
from station.api.schemas import ClipOut, DisputeIn, DisputeOut
from station.api.security import context, require
from station.auth import ApiRole, Principal
from station.video import NoFootage, VideoService, set_disputed

router = APIRouter(prefix=API_PREFIX, tags=["video"])

OrderId = Annotated[str, Path(min_length=1, max_length=64, description="The order id, e.g. SO20260205-8821.")]
Viewer = Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 << 10


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}, "description": description}
    }


def _video(request: Request) -> VideoService:
    video = context(request).video
    if video is None:
        raise ApiProblem(404, "no_camera")
    return video


@router.get(
    "/orders/{order_id:order_id}/clip",
    response_class=Response,
    responses=_binary("video/mp4", "The clip (or, with Range, 206 and part of it)")
    | {206: {"description": "Part of the clip"}, 416: {"description": "Range not satisfiable"}}
    | problem_responses(401, 403, 404, 422),
    summary="An order's packing clip",
)
async def get_clip(
    order_id: OrderId,
    request: Request,
    _: Viewer,
    range_header: Annotated[str | None, Header(alias="Range", max_length=100)] = None,
) -> Response:
    """The MP4 from the order's first scan (minus pre-roll) to its label scan (plus post-roll). Supports one
    `Range: bytes=a-b` (206 with `Content-Range`; 416 when unsatisfiable)."""
    video = _video(request)
    row = await context(request).db(video.clip_row, order_id)
    if row is None or not row.get("path"):
        raise ApiProblem(404, "clip_not_found")
    path = video.data_dir / row["path"]
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{row["sha256"]}"'}
    if range_header is None:
        return FileResponse(path, media_type="video/mp4", headers=headers)
    match = _RANGE.match(range_header.strip())
    if match is None or (not match[1] and not match[2]):
        return Response(status_code=416, headers=headers | {"Content-Range": f"bytes */{size}"})
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or end < start:
        return Response(status_code=416, headers=headers | {"Content-Range": f"bytes */{size}"})
    data = await asyncio.get_running_loop().run_in_executor(None, _read_range, path, start, end - start + 1)
    headers |= {"Content-Range": f"bytes {start}-{end}/{size}"}
    return Response(content=data, status_code=206, media_type="video/mp4", headers=headers)


def _read_range(path: FsPath, start: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(start)
        return f.read(length)


def _clip_out(row: dict[str, Any]) -> ClipOut:
    return ClipOut.model_validate({k: row[k] for k in ClipOut.model_fields if k in row} | {"disputed": row["disputed"]})


@router.get(
    "/orders/{order_id:order_id}/clip/markers",
    response_model=ClipOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Markers of an order's clip",
)
async def get_markers(order_id: OrderId, request: Request, _: Viewer) -> ClipOut:
    """Every event of the order as `[offset_s, label]` from the clip's first frame, with the clip's times."""
    video = _video(request)
    row = await context(request).db(video.clip_row, order_id)
    if row is None or not row.get("path"):
        raise ApiProblem(404, "clip_not_found")
    gaps = await context(request).db(video.recording_gaps, order_id)
    return _clip_out(row).model_copy(update={"recording_gaps": gaps})


@router.post(
    "/orders/{order_id:order_id}/clip",
    response_model=ClipOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Make an order's clip now",
)
async def post_clip(order_id: OrderId, request: Request, _: Viewer) -> ClipOut:
    """Assemble the clip from what is recorded so far — for an order still being packed, or to remake one.
    Answers once it is stored (a `clip.ready` event is on the timeline); 404 `no_footage` when no recording
    covers the order."""
    ctx = context(request)
    video = _video(request)
    if not await ctx.db(ctx.store.events_for_order, order_id):
        raise ApiProblem(404, "order_not_found")
    try:
        clip = await asyncio.get_running_loop().run_in_executor(None, video.make_clip, order_id)
    except NoFootage as err:
        raise ApiProblem(404, "no_footage", [str(err)]) from err
    if clip is None:
        raise ApiProblem(404, "no_bench_events")
    row = await ctx.db(video.clip_row, order_id)
    if row is None:  # just written; gone only if deleted in between
        raise ApiProblem(404, "clip_not_found")
    return _clip_out(row)


@router.put(
    "/orders/{order_id:order_id}/dispute",
    response_model=DisputeOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Flag or unflag an order as disputed",
)
async def put_dispute(order_id: OrderId, body: DisputeIn, request: Request, caller: Viewer) -> DisputeOut:
    """While an order is disputed, retention never deletes its clip or photos. Each change is an event on the
    order's timeline (`order.dispute_flagged` / `order.dispute_cleared`) with who and why."""
    ctx = context(request)
    refusal = await ctx.db(set_disputed, ctx.store, order_id, body.disputed, caller.actor("web"), body.reason)
    if refusal == "order_not_found":
        raise ApiProblem(404, refusal)
    if refusal is not None:
        raise ApiProblem(422, refusal)
    return DisputeOut(order_id=order_id, disputed=body.disputed)


@router.get(
    "/orders/{order_id:order_id}/photos/{n}",
    response_class=Response,
    responses=_binary("image/jpeg", "The packing photo") | problem_responses(401, 403, 404, 422),
    summary="An order's packing photo",
)
async def get_photo(
    order_id: OrderId,
    n: Annotated[int, Path(ge=1, le=1000, description="Photo number, from 1.")],
    request: Request,
    _: Viewer,
) -> Response:
    """The n-th packing photo of the order (JPEG, overlay burned in)."""
    video = _video(request)
    photos = await context(request).db(video.photos, order_id)
    chosen = [p for p in photos if p["n"] == n]
    if not chosen or not (video.data_dir / chosen[0]["path"]).exists():
        raise ApiProblem(404, "photo_not_found")
    return FileResponse(video.data_dir / chosen[0]["path"], media_type="image/jpeg")


@router.get(
    "/orders/{order_id:order_id}/evidence",
    response_class=Response,
    responses=_binary("application/zip", "The signed evidence bundle") | problem_responses(401, 403, 404, 422),
    summary="An order's evidence bundle",
)
async def get_evidence(order_id: OrderId, request: Request, _: Viewer) -> Response:
    """A zip: clip, photos, timeline, and `manifest.json` (SHA-256 of every file, the event chain head) signed
    with the station's Ed25519 key (`manifest.sig`, `station_key.pub.pem`)."""
    ctx = context(request)
    video = _video(request)
    station = f"{ctx.settings.station.site}/{ctx.settings.station.station_id}"
    data = await asyncio.get_running_loop().run_in_executor(None, video.evidence, order_id, station)
    if data is None:
        raise ApiProblem(404, "order_not_found")
    disposition = f'attachment; filename="evidence-{re.sub(r"[^A-Za-z0-9_.-]", "_", order_id)}.zip"'
    return Response(content=data, media_type="application/zip", headers={"Content-Disposition": disposition})
