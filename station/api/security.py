"""Who is calling: bearer tokens (every role) or the supervisor session cookie; role checks per route."""

from collections.abc import Awaitable, Callable

from fastapi import Request

from station.api.context import ApiContext
from station.api.problems import ApiProblem
from station.auth import ApiRole, Principal, verify_session, verify_token

SESSION_COOKIE = "station_session"


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
        return await ctx.db(verify_token, ctx.store, secret.strip())
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
