"""The station's HTTP API (FastAPI) under /api/v1, plus /metrics. Built by `create_api` from an ApiContext."""

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from station.api import API_PREFIX
from station.api.context import ApiContext
from station.api.limits import BodySizeLimit
from station.api.problems import ApiProblem, handle_api_problem, handle_http, handle_validation, problem_response
from station.api.routes_labels import router as labels_router
from station.api.routes_ops import metrics_router
from station.api.routes_ops import router as ops_router
from station.api.routes_orders import router as orders_router
from station.api.routes_queue import router as queue_router
from station.api.routes_scans import router as scans_router
from station.api.routes_video import router as video_router
from station.web import STATIC_DIR
from station.web import router as pages_router

logger = logging.getLogger(__name__)

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
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.add_exception_handler(ApiProblem, handle_api_problem)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)

    # Inside `observe`: it runs the app in a task of its own, where an error raised while a body is read would
    # become a 500 instead of the 413.
    app.add_middleware(BodySizeLimit)

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

    app.include_router(scans_router)
    app.include_router(orders_router)
    app.include_router(ops_router)
    app.include_router(queue_router)
    app.include_router(labels_router)
    app.include_router(video_router)
    app.include_router(metrics_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
