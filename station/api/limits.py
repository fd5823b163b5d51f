"""A cap on request bodies: FastAPI and uvicorn read whatever a client sends into memory, and a station is a
small computer. The largest body the API takes is a scan (a 16 KB code); `MAX_BODY_BYTES` leaves room for every
route and refuses the rest with a 413 problem, before (Content-Length) or while (chunked) it arrives.
"""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station.api.problems import problem_response

MAX_BODY_BYTES = 1 << 20


class BodySizeLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with `413 request_too_large`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await problem_response(Request(scope), 413, "request_too_large")(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            # A body sent without a length (chunked) is counted as it comes. Starlette's HTTPException, because
            # FastAPI turns anything else raised while it reads a body into a 400.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)
