"""The API docs pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with no network.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc's fonts from Google), so they are blank
offline. These pages load the same assets from ``docs_assets/``: vendored from the pinned npm packages
``swagger-ui-dist`` and ``redoc`` with their licences (``scripts/vendor_docs_assets.sh``; versions in
``docs_assets/VERSIONS``) and served under ``/docs/assets/``. The app is created with ``docs_url=None`` and
``redoc_url=None`` and includes :data:`router`.

The bundles fetch nothing by themselves either: the vendoring script swaps ReDoc's side-menu logo (drawn from
its CDN) for an inline pixel, and Swagger UI's online validator (swagger.io) is switched off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from genloom.core.errors import NotFound

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
ASSETS_PREFIX = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

#: every file a docs page may ask for (nothing else under ``docs_assets`` is served)
ASSETS = {
    "swagger-ui/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui/swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui/favicon-32x32.png": "image/png",
    "redoc/redoc.standalone.js": "text/javascript; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _openapi_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + str(request.app.openapi_url or "/openapi.json")


def _asset(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_PREFIX}/{name}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} — Swagger UI",
        swagger_js_url=_asset(request, "swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=_asset(request, "swagger-ui/swagger-ui.css"),
        swagger_favicon_url=_asset(request, "swagger-ui/favicon-32x32.png"),
        oauth2_redirect_url=str(request.scope.get("root_path", "")) + OAUTH2_REDIRECT,
        # the validator badge would send the document's URL to validator.swagger.io
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} — ReDoc",
        redoc_js_url=_asset(request, "redoc/redoc.standalone.js"),
        redoc_favicon_url=_asset(request, "swagger-ui/favicon-32x32.png"),
        with_google_fonts=False,
    )


@router.get(ASSETS_PREFIX + "/{group}/{name}")
async def docs_asset(group: str, name: str) -> FileResponse:
    key = f"{group}/{name}"
    media_type = ASSETS.get(key)
    if media_type is None:  # a fixed list, so no path can reach outside the folder
        raise NotFound("no such docs asset")
    # the versions are pinned and the files never change between releases: let browsers keep them a day
    return FileResponse(ASSETS_DIR / key, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
