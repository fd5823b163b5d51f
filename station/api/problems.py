"""Errors as one JSON problem document (RFC 9457 shape), with a human message in zh-CN or English.

Every refusal the API gives has a machine-readable `code`; people get `detail` in the language their
`Accept-Language` asks for. HTTP status codes live in this package only.
"""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from station.printing import MESSAGES as PRINTING_MESSAGES
from station.workflow.outcome import MESSAGES

PROBLEM_MEDIA_TYPE = "application/problem+json"

API_MESSAGES: dict[str, tuple[str, str]] = {
    "unauthenticated": ("需要登录或有效的令牌", "Credentials required: a bearer token or a supervisor login"),
    "token_expired": (
        "此令牌已过期，请用 station token create 创建新令牌",
        "This token has expired; make a new one with `station token create`",
    ),
    "forbidden": ("当前角色无权执行此操作", "Your role may not do this"),
    "wrong_bench": ("此令牌只能用于其所属工位", "This token may only post scans for its own bench"),
    "not_found": ("未找到", "Not found"),
    "order_not_found": ("订单不存在", "Order not found"),
    "version_conflict": ("订单已被他人修改，请刷新后重试", "The order changed meanwhile; reload and try again"),
    "invalid_request": ("请求格式不正确", "The request is not valid"),
    "login_failed": ("用户名或密码错误", "Wrong username or password"),
    "too_many_attempts": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "login_rate_limited": (
        "此设备登录尝试过于频繁，请稍后再试",
        "Too many login attempts from this device; try again later",
    ),
    "login_busy": ("登录请求过多，请稍后再试", "The station is busy with other logins; try again shortly"),
    "cross_site_request": (
        "请求未通过同源检查，请从工作站页面操作",
        "The request did not come from this station's pages (same-origin check failed)",
    ),
    "method_not_allowed": ("不支持此方法", "Method not allowed"),
    "internal_error": ("服务器内部错误", "Internal error"),
    "claimed_by_other": ("订单已被其他手持终端认领", "Another PDA holds this order"),
    "not_claimed": ("此终端未认领该订单", "This PDA holds no claim on the order"),
    "s_breaker_tripped": ("S 级订单过多，暂停新的 S 级升级", "Too many S orders: new S escalations are paused"),
    "breaker_not_tripped": ("S 级熔断未触发", "The S breaker is not tripped"),
    "order_closed": ("订单已结束", "The order is closed"),
    "no_camera": ("本工位未配置摄像头", "No camera is configured at this station"),
    "clip_not_found": ("该订单暂无视频", "This order has no clip (yet)"),
    "photo_not_found": ("未找到该打包照片", "No such packing photo"),
    "no_bench_events": ("该订单尚未在工位扫描，没有视频", "The order was never scanned at a bench: no footage"),
    "no_footage": (
        "该订单时段没有录像（摄像头离线或已按保留策略删除）",
        "No recording covers the order (camera off, or deleted by retention)",
    ),
    "reason_required": ("需要原因", "A reason is required"),
    "request_too_large": ("请求内容过大（上限 1 MB）", "The request body is too large (1 MB at most)"),
    "search_empty": ("请输入要查找的号码", "Type a number to search for"),
    "search_too_long": ("搜索内容过长（最多 128 个字符）", "The search is too long (128 characters at most)"),
    "search_control_characters": ("搜索内容含控制字符", "The search contains control characters"),
    "search_prefix_too_short": (
        "前缀搜索需在 * 前至少输入 3 个字符",
        "A prefix search needs 3 characters before the *",
    ),
    "bad_cursor": ("翻页标记无效，请从第一页重新查询", "The page cursor is not valid; start again from the first page"),
    "queue_order_needs_status": ("按队列顺序排列时须选择一个状态", "Queue order needs a status"),
    "hub_only": ("只有总部或系统可以执行此操作", "Only the hub or the system may do this"),
}


class Problem(BaseModel):
    """An error answer."""

    type: str = Field("about:blank", description="Always about:blank; `code` identifies the problem.")
    title: str = Field(description="Short English title of the problem.")
    status: int = Field(description="The HTTP status code.")
    code: str = Field(description="Machine-readable reason, e.g. version_conflict, order_cancelled.")
    detail: str = Field(description="What happened, in the language asked for by Accept-Language.")
    errors: list[str] = Field(default_factory=list, description="Field-level problems, e.g. `body.code: missing`.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Conflict",
                    "status": 409,
                    "code": "version_conflict",
                    "detail": "The order changed meanwhile; reload and try again",
                    "errors": [],
                }
            ]
        }
    }


class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, code: str, errors: list[str] | None = None, headers: dict[str, str] | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.errors = errors or []
        self.headers = headers or {}


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def wants_chinese(request: Request) -> bool:
    """True when Accept-Language prefers Chinese (a simple first-match on the header)."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return first.startswith("zh")


def localized(request: Request, code: str) -> str:
    """The message for `code` in the caller's language."""
    zh, en = API_MESSAGES.get(code) or MESSAGES.get(code) or PRINTING_MESSAGES.get(code) or (code, code)
    return zh if wants_chinese(request) else en


def problem_response(
    request: Request, status: int, code: str, errors: list[str] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Build the problem answer."""
    body = Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=localized(request, code),
        errors=errors or [],
    )
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def handle_api_problem(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for ApiProblem."""
    assert isinstance(exc, ApiProblem)
    return problem_response(request, exc.status, exc.code, exc.errors, exc.headers)


async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
    """Request validation errors become 422 problems naming each field."""
    assert isinstance(exc, RequestValidationError)
    errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return problem_response(request, 422, "invalid_request", errors)


async def handle_http(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
        exc.status_code, "invalid_request"
    )
    return problem_response(request, exc.status_code, code, headers=dict(exc.headers or {}))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses."""
    return {
        s: {"model": Problem, "description": _TITLES.get(s, "Error"), "content": {PROBLEM_MEDIA_TYPE: {}}}
        for s in statuses
    }
