"""The station's HTTP API (FastAPI) under /api/v1, plus /metrics. Built by `create_api` from an ApiContext;
`listen` claims its address before anything else starts."""

import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from station.api import API_PREFIX
from station.api.context import ApiContext
from station.api.docs import add_docs
from station.api.limits import BodySizeLimit
from station.api.order_paths import KeepEncodedSlashes
from station.api.problems import ApiProblem, handle_api_problem, handle_http, handle_validation, problem_response
from station.api.routes_labels import router as labels_router
from station.api.routes_ops import metrics_router
from station.api.routes_ops import router as ops_router
from station.api.routes_orders import router as orders_router
from station.api.routes_queue import router as queue_router
from station.api.routes_scans import router as scans_router
from station.api.routes_search import router as search_router
from station.api.routes_video import router as video_router
from station.api.tls import StrictTransportSecurity
from station.web import STATIC_DIR
from station.web import router as pages_router

logger = logging.getLogger(__name__)

# uvicorn's default; it calls listen() again with its own configured backlog when it takes the sockets over.
LISTEN_BACKLOG = 2048
# What to suggest when the kernel refuses the address: the usual causes at a bench.
_LISTEN_HINTS = {
    errno.EADDRINUSE: "another station running? use --port",
    errno.EACCES: "ports below 1024 need privileges; use --port",
    errno.EADDRNOTAVAIL: "not an address of this machine; use --host",
}

DESCRIPTION = """
The HTTP API of a Packing Station (one packing bench computer).

**Auth.** Bearer tokens made with `station token create --role bench|pda|supervisor|hub` (shown once), or, for
supervisors, the session cookie set by `POST /api/v1/auth/login`. No credentials → 401; a role that may not use a
route → 403. A bench token posts scans for its own bench only. Here in /docs, press **Authorize** and paste a
token into `bearerToken` (or log in first: the browser then sends the `supervisorSession` cookie). A revoked
token is refused from the next request on.

**Errors** are `application/problem+json` with a machine-readable `code` and a `detail` in zh-CN or English
(by `Accept-Language`).
"""


def create_api(ctx: ApiContext) -> FastAPI:
    """Build the FastAPI application around a wired station."""
    app = FastAPI(
        title="Packing Station API",
        version=ctx.version,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by `add_docs` from the station's own files
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.add_exception_handler(ApiProblem, handle_api_problem)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)

    # Inside `observe`: it runs the app in a task of its own, where an error raised while a body is read would
    # become a 500 instead of the 413.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(KeepEncodedSlashes)  # order ids such as ERP/2026/7 in one path segment

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            logger.exception("unhandled error on %s %s", request.method, request.url.path)
            response = problem_response(request, 500, "internal_error")
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        ctx.metrics.request_latency.labels(request.method, template, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    if ctx.settings.api.https:
        # Added last, so outermost: every answer carries it, the 500s made by `observe` and the static files too.
        app.add_middleware(StrictTransportSecurity)

    app.include_router(scans_router)
    app.include_router(orders_router)
    app.include_router(search_router)
    app.include_router(ops_router)
    app.include_router(queue_router)
    app.include_router(labels_router)
    app.include_router(video_router)
    app.include_router(metrics_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_docs(app, f"{API_PREFIX}/openapi.json")
    return app


class ListenError(Exception):
    """The HTTP address cannot be listened on; the message is the one line to show."""


def listen(host: str, port: int) -> list[socket.socket]:
    """Bind and listen on every address `host` resolves to (as uvicorn itself would) and return the sockets.

    Called before the database, the devices or any output, so that a taken port is the first and only thing a
    second station says; uvicorn then serves on these very sockets, leaving no window for another process to
    take the port in between. Raises `ListenError` naming the address and, where it helps, what to do.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        # AI_PASSIVE with no host is the wildcard, as `host=""` means to asyncio's create_server.
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        raise ListenError(f"cannot listen on {where}: {_reason(err)}") from err
    sockets: list[socket.socket] = []
    try:
        # dict.fromkeys: one socket per distinct address, in the resolver's order.
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sockets.append(_listening_socket(family, kind, proto, address))
    except OSError as err:
        for sock in sockets:
            sock.close()
        raise ListenError(f"cannot listen on {where}: {_reason(err)}") from err
    return sockets


def _listening_socket(
    family: socket.AddressFamily,
    kind: socket.SocketKind,
    proto: int,
    address: tuple[Any, ...],  # what getaddrinfo gives for the family: (host, port[, flowinfo, scope])
) -> socket.socket:
    """One listening socket, with the options asyncio's create_server sets (what uvicorn uses by default)."""
    sock = socket.socket(family, kind, proto)
    try:
        # A restarted station must not wait out the old connections' TIME_WAIT; a live listener still refuses us.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # "::" stays IPv6-only, as with asyncio: IPv4 is listened on only when asked for.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        # listen() now, not only bind(): two sockets with SO_REUSEADDR may both bind a port nobody listens on yet.
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _reason(err: OSError | UnicodeError) -> str:
    """`address already in use (another station running? use --port)`: the OS's words, lower-cased, plus a hint."""
    text = (err.strerror if isinstance(err, OSError) else None) or str(err)
    text = text[:1].lower() + text[1:]
    hint = _LISTEN_HINTS.get(err.errno) if isinstance(err, OSError) and err.errno is not None else None
    return f"{text} ({hint})" if hint else text
