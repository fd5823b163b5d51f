"""`/docs`: the interactive API reference, served from the station's own files.

FastAPI's default page loads Swagger UI from a public CDN: on a station without internet it is blank, and
a page the supervisor opens would run scripts the station does not control. The same Swagger UI comes
here from the `swagger-ui-bundle` package, under `/docs/assets/`.
"""

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def add_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve the API reference at `/docs` with Swagger UI's own files from this station."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
