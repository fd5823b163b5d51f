"""Operations: alerts, health, Prometheus metrics, and supervisor login sessions."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from station.alerts.monitor import active_alerts
from station.api import API_PREFIX
from station.api.client_address import Network, client_address, parse_networks
from station.api.context import ApiContext
from station.api.login_limits import login_throttle
from station.api.password_pool import PoolBusy, password_pool
from station.api.problems import ApiProblem, problem_responses
from station.api.schemas import AlertOut, HealthOut, LoginIn, WhoAmI
from station.api.security import ANY_ROLE, SESSION_COOKIE, context, refuse_cross_site, require
from station.auth import (
    SESSION_TTL_MS,
    ApiRole,
    Principal,
    close_session,
    open_session,
    password_hash_of,
    verify_password,
)

router = APIRouter(prefix=API_PREFIX)
metrics_router = APIRouter()  # /metrics sits at the root, where Prometheus looks by default


@router.get("/alerts", response_model=list[AlertOut], responses=problem_responses(401, 403), tags=["operations"])
async def get_alerts(
    request: Request, _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))]
) -> list[AlertOut]:
    """Alerts that are raised and not cleared (database recovered, devices down, SLA...)."""
    ctx = context(request)
    return [AlertOut.model_validate(a) for a in await ctx.db(active_alerts, ctx.store)]


@router.get("/health", response_model=HealthOut, responses=problem_responses(401, 403), tags=["operations"])
async def get_health(
    request: Request, _: Annotated[Principal, Depends(require(ApiRole.BENCH, ApiRole.SUPERVISOR, ApiRole.HUB))]
) -> HealthOut:
    """Database, event stream, clock and each wired part (sync, devices)."""
    ctx = context(request)
    store = ctx.store
    last_seq, backlog = await ctx.db(lambda: (store.last_seq(), store.backlog()))
    parts = {name: dict(source.health()) for name, source in ctx.health_parts.items()}
    degraded = any(p.get("ok") is False for p in parts.values())
    return HealthOut(
        status="degraded" if degraded else "ok",
        version=ctx.version,
        site=ctx.settings.station.site,
        station_id=ctx.settings.station.station_id,
        stream_epoch=store.stream_epoch,
        last_seq=last_seq,
        backlog=backlog,
        clock_synced=store.sync_state.is_synced(),
        parts=parts,
    )


@router.post(
    "/auth/login",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 422, 429),
    tags=["auth"],
)
async def login(body: LoginIn, request: Request) -> Response:
    """Supervisor login: sets an HttpOnly, SameSite=Strict session cookie.

    Refused with 429 and Retry-After: repeated failures for the user from this client (`too_many_attempts`),
    too many attempts from this client (`login_rate_limited`), or from everyone at once (`login_busy`). The
    password is checked in the login pool, never on the database thread (`station/api/password_pool.py`).
    """
    ctx = context(request)
    throttle = login_throttle(request)
    client = client_address(request, _trusted_proxies(ctx))
    refusal = throttle.admit(body.username, client)
    if refusal is not None:
        await throttle.pause_refusal()
        raise ApiProblem(429, refusal.code, headers={"Retry-After": str(refusal.retry_after_s)})
    try:
        reservation = password_pool().reserve()
    except PoolBusy as busy:
        await throttle.pause_refusal()
        raise ApiProblem(429, "login_busy", headers={"Retry-After": str(busy.retry_after_s)}) from None
    with reservation:
        # The row on the database thread (cheap), argon2 in the pool (slow), the session back on the database.
        password_hash = await ctx.db(password_hash_of, ctx.store, body.username)
        ok = await reservation.run(verify_password, password_hash, body.password)
    if not ok:
        throttle.failed(body.username, client)
        raise ApiProblem(401, "login_failed")
    throttle.succeeded(body.username, client)
    secret = await ctx.db(open_session, ctx.store, body.username)
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=SESSION_TTL_MS // 1000,
        httponly=True,
        samesite="strict",
        secure=ctx.cookie_secure,
        path="/",
    )
    return response


def _trusted_proxies(ctx: ApiContext) -> tuple[Network, ...]:
    # Parsed per request: a few entries at most, and `[api]` may be reloaded.
    return parse_networks(ctx.settings.api.trusted_proxies)


@router.post("/auth/logout", status_code=204, response_class=Response, responses=problem_responses(403), tags=["auth"])
async def logout(request: Request) -> Response:
    """End the supervisor session (no error if there is none). With the cookie, only from the station's pages."""
    ctx = context(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        refuse_cross_site(request)
        await ctx.db(close_session, ctx.store, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=WhoAmI, responses=problem_responses(401), tags=["auth"])
async def who_am_i(caller: Annotated[Principal, Depends(require(*ANY_ROLE))]) -> WhoAmI:
    """The role and name behind the credentials used."""
    return WhoAmI(role=caller.role.value, name=caller.name, bench_id=caller.bench_id)


@metrics_router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses=problem_responses(401, 403),
    tags=["operations"],
)
async def metrics(
    request: Request, _: Annotated[Principal, Depends(require(ApiRole.SUPERVISOR, ApiRole.HUB))]
) -> PlainTextResponse:
    """Prometheus text format: scans by outcome, transitions, errors stopped per 1,000 orders, backlog, latency."""
    ctx = context(request)
    body = await ctx.db(ctx.metrics.render)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
