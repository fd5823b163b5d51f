"""Who is calling: bearer tokens (every role) or the supervisor session cookie; role checks per route.

Verified tokens are remembered for `TOKEN_CACHE_S` (keyed by a hash of the secret, never the secret), so
PDAs polling many times a second do not each queue a lookup on the database thread; a revoked token stops
working within that time.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable

from fastapi import Request

from station.api.context import ApiContext
from station.api.problems import ApiProblem
from station.auth import ApiRole, Principal, verify_session, verify_token

SESSION_COOKIE = "station_session"
TOKEN_CACHE_S = 2.0


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
        hit = ctx.token_cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await ctx.db(verify_token, ctx.store, secret.strip())
        if principal is not None:
            if len(ctx.token_cache) > 1000:
                ctx.token_cache.clear()
            ctx.token_cache[key] = (principal, now + TOKEN_CACHE_S)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await ctx.db(verify_session, ctx.store, cookie)
    return None


def require(*roles: ApiRole) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the caller must be authenticated (else 401) and hold one of `roles` (else 403)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = await identify(request)
        if principal is None:
            raise ApiProblem(401, "unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="packing-station"'})
        if principal.role not in allowed:
            raise ApiProblem(403, "forbidden")
        return principal

    dependency.__doc__ = f"Requires one of: {', '.join(sorted(r.value for r in allowed))}."
    return dependency


ANY_ROLE = tuple(ApiRole)
