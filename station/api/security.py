"""Who is calling: bearer tokens (every role) or the supervisor session cookie; role checks per route.

Verified tokens are remembered for `TOKEN_CACHE_S` (keyed by a hash of the secret, never the secret), so
PDAs polling many times a second do not each queue a lookup on the database thread. A revocation ends that
at once: every revocation appends to a marker file beside the database (`station.auth.revocation_mark`), and
a cached token counts only while the marker is unchanged since it was checked — one `stat` per request,
whether the token was revoked by this process or by `station token revoke` in another.

The credentials are declared as OpenAPI security schemes (`bearerToken`, and `supervisorSession` on routes a
supervisor may use), so /docs has an Authorize button; the checks and their 401/403 problems stay ours.

A request that changes something with only the session cookie must show it comes from this station's own pages
(`same_origin_proof`): the cookie is SameSite=Strict, but "site" ignores the port, so a page served by anything
else on the station's host (or a sibling name) would otherwise ride on it with a body-less POST. Bearer tokens
are never sent by a browser on its own and are not affected.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from station.api.context import ApiContext
from station.api.problems import ApiProblem
from station.auth import ApiRole, Principal, TokenExpired, revocation_mark, verify_session, verify_token

SESSION_COOKIE = "station_session"
TOKEN_CACHE_S = 2.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_EXPIRED_CHALLENGE = 'Bearer realm="packing-station", error="invalid_token", error_description="token expired"'

# auto_error=False: these only document the credentials (and hand them to Swagger UI); `require` decides.
bearer_scheme = HTTPBearer(
    scheme_name="bearerToken",
    bearerFormat="pst_…",
    description="A token made with `station token create --role bench|pda|supervisor|hub` (shown once).",
    auto_error=False,
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="supervisorSession",
    description="The HttpOnly session cookie set by `POST /api/v1/auth/login` (supervisors only).",
    auto_error=False,
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
Session = Annotated[str | None, Depends(session_scheme)]


def context(request: Request) -> ApiContext:
    """The ApiContext stored on the app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def identify(request: Request) -> Principal | None:
    """The caller, from `Authorization: Bearer ...` or the session cookie; None if neither is valid."""
    ctx = context(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None
        key = hashlib.sha256(secret.strip().encode()).hexdigest()
        mark = revocation_mark(ctx.store.path)  # read before verifying: a later revocation changes it
        hit = ctx.token_cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now and hit[2] == mark and not hit[0].expired(ctx.store.wall_ms()):
            return hit[0]
        try:
            principal = await ctx.db(verify_token, ctx.store, secret.strip())
        except TokenExpired:
            raise ApiProblem(401, "token_expired", headers={"WWW-Authenticate": _EXPIRED_CHALLENGE}) from None
        if principal is not None:
            if len(ctx.token_cache) > 1000:
                ctx.token_cache.clear()
            ctx.token_cache[key] = (principal, now + TOKEN_CACHE_S, mark)
        else:
            ctx.token_cache.pop(key, None)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await ctx.db(verify_session, ctx.store, cookie)
    return None


def same_origin_proof(request: Request) -> bool:
    """True when the request shows a browser sent it from this station's own pages. Any one of:

    - a JSON body (`Content-Type: application/json`): another origin cannot send that without a CORS
      preflight, which the station never grants;
    - an `X-Requested-With` header (the pages' fetch helper sets it): likewise a preflighted header;
    - an `Origin` naming this very host and port.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json")):
        return True
    if request.headers.get("x-requested-with"):
        return True
    origin = request.headers.get("origin", "")
    host = request.headers.get("host", "")
    if not origin or origin == "null" or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def refuse_cross_site(request: Request) -> None:
    """403 `cross_site_request` for a state-changing request made with the session cookie alone and no
    `same_origin_proof`."""
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    if request.cookies.get(SESSION_COOKIE) and not same_origin_proof(request):
        raise ApiProblem(403, "cross_site_request")


def require(*roles: ApiRole) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller must be authenticated (else 401) and hold one of `roles` (else 403).

    The OpenAPI document lists the bearer scheme on every route that uses it, and the session cookie only
    where a supervisor is allowed (the cookie only ever makes a supervisor).
    """
    allowed = frozenset(roles)

    async def check(request: Request) -> Principal:
        principal = await identify(request)
        if principal is None:
            raise ApiProblem(401, "unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="packing-station"'})
        if principal.role not in allowed:
            raise ApiProblem(403, "forbidden")
        refuse_cross_site(request)
        return principal

    if ApiRole.SUPERVISOR in allowed:

        async def dependency(request: Request, _bearer: Bearer, _session: Session) -> Principal:
            return await check(request)

    else:

        async def dependency(request: Request, _bearer: Bearer) -> Principal:  # type: ignore[misc]
            return await check(request)

    dependency.__doc__ = f"Requires one of: {', '.join(sorted(r.value for r in allowed))}."
    return dependency


ANY_ROLE = tuple(ApiRole)
