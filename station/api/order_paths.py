"""Order ids in URL paths, taken as shops write them: `#1001`, `ERP/2026/7`, `100%`.

An id is one path segment, percent-encoded by the client (the pages use `encodeURIComponent`). Starlette
routes on the decoded path, where an encoded `/` (`%2F`) would split the segment in two. `KeepEncodedSlashes`
therefore decodes the path itself and leaves `%2F` and `%25` as they are; the `order_id` path convertor then
decodes those two in the id. Every route with an order id in its path declares it as `{order_id:order_id}`.
"""

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

_KEPT = re.compile(r"(%2[Ff]|%25)")


class OrderIdConvertor(Convertor[str]):
    """One path segment holding an order id, with `%2F` and `%25` still encoded by `KeepEncodedSlashes`."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        """The order id."""
        return _KEPT.sub(lambda m: "%" if m.group(0) == "%25" else "/", value)

    def to_string(self, value: str) -> str:
        """The segment for an order id (for `url_path_for`)."""
        return value.replace("%", "%25").replace("/", "%2F")


register_url_convertor("order_id", OrderIdConvertor())


def _decoded_keeping_slashes(raw_path: str) -> str:
    # Split on the two escapes that must survive routing, decode the rest as UTF-8 as Starlette would.
    return "".join(part if _KEPT.fullmatch(part) else unquote(part) for part in _KEPT.split(raw_path))


class KeepEncodedSlashes:
    """ASGI middleware: route on the path with `%2F` and `%25` still encoded (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and _KEPT.search(raw.decode("latin-1")):
            scope = dict(scope)
            scope["path"] = _decoded_keeping_slashes(raw.decode("latin-1").split("?", 1)[0])
        await self.app(scope, receive, send)
