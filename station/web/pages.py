"""Routes of the supervisor pages: each returns its HTML shell; the page's script asks the API for the rest."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles from this station only, no inline script, media and images from the API, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/")
async def dashboard() -> FileResponse:
    """Alerts, the queue, and a box to open any order."""
    return _page("dashboard.html")


@router.get("/login")
async def login() -> FileResponse:
    """The supervisor's login form."""
    return _page("login.html")


@router.get("/bench/{bench}")
async def bench_screen(
    bench: Annotated[str, PathParam(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")],
) -> FileResponse:
    """The bench screen (kiosk): the last answer in big type and the open order's lines; it reads the API with the
    bench's token, handed over once as `/bench/{bench}#token=...`."""
    return _page("kiosk.html")


@router.get("/orders/{order_id:order_id}")
async def order(order_id: Annotated[str, PathParam(min_length=1, max_length=64)]) -> FileResponse:
    """One order: its lines, the packing clip with a marker for every scan, photos, timeline and evidence."""
    return _page("order.html")
