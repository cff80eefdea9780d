"""/docs (Swagger UI) and /redoc work offline: the pages reference only this server, and every asset they name
is served from the package (vendored with its licence)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from genloom.system.apidocs import ASSETS, ASSETS_DIR
from tests.browser import BrowserPage, PageError, run_in_chromium

URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]|spec-url=["']([^"']+)["']""")


def referenced(html: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in URL_ATTR.finditer(html)]


async def test_docs_pages_reference_only_local_urls(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        html = response.text
        assert "//" not in re.sub(r"<!--.*?-->", "", html, flags=re.S).replace("http://testserver", ""), (
            f"{page} names another host")
        urls = referenced(html)
        assert urls and all(u.startswith("/") for u in urls), urls
        for url in urls:
            fetched = await client.get(url)
            assert fetched.status_code == 200, url
            assert fetched.content, url


async def test_assets_are_the_vendored_files_with_their_licences(client: httpx.AsyncClient) -> None:
    for name, media_type in ASSETS.items():
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 200 and response.headers["content-type"] == media_type
        assert response.content == (ASSETS_DIR / name).read_bytes()
    assert "Apache License" in (ASSETS_DIR / "swagger-ui" / "LICENSE").read_text()  # swagger-ui-dist
    assert "MIT License" in (ASSETS_DIR / "redoc" / "LICENSE").read_text()  # redoc
    assert (await client.get("/docs/assets/swagger-ui/LICENSE")).status_code == 404  # only the listed files
    assert (await client.get("/docs/assets/..%2F..%2Fapidocs.py/x")).status_code == 404


def _rendered_script(selector: str) -> str:
    """A page script that waits until ``selector`` exists (the UI has drawn the API), then until every web font
    and image the page asked for has loaded or failed, and returns the images' sources."""
    return f"""
        const selector = {json.dumps(selector)}, deadline = Date.now() + 25000;
        while (!document.querySelector(selector)) {{
            if (Date.now() > deadline) throw new Error("never rendered: " + selector);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }}
        await document.fonts.ready;
        await Promise.all([...document.images].map((img) => img.complete ? null
            : new Promise((resolve) => {{ img.onload = img.onerror = resolve; }})));
        return [...document.images].map((img) => img.src);
    """


async def test_docs_pages_in_chromium_request_nothing_from_another_host(live_server: Callable[..., Any]) -> None:
    # What the HTML names is not all a page fetches: the bundles bring their own defaults (ReDoc's side-menu logo
    # came from its CDN, Swagger UI's validator badge from swagger.io). A real browser renders both pages and
    # every request it makes is recorded.
    async with live_server() as base:
        requests: list[list[str]] = []
        swagger, redoc = await run_in_chromium([
            BrowserPage(f"{base}/docs", _rendered_script(".swagger-ui .opblock")),
            # the side menu's "API docs by Redocly" logo (ReDoc drops it if it fails to load)
            BrowserPage(f"{base}/redoc", _rendered_script('a[href="https://redocly.com/redoc/"] img')),
        ], requests=requests)
    for page, urls in zip(("/docs", "/redoc"), requests, strict=True):
        foreign = [u for u in urls if not u.startswith((f"{base}/", "data:", "blob:"))]
        assert not foreign, f"{page} requested {foreign}"
        assert f"{base}{page}" in urls and f"{base}/openapi.json" in urls, urls
    assert not isinstance(swagger, PageError) and not isinstance(redoc, PageError), (swagger, redoc)
    assert redoc and all(src.startswith("data:") for src in redoc), redoc  # the logo is drawn, from the bundle
