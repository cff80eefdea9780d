"""/docs (Swagger UI) and /redoc work offline: the pages reference only this server, and every asset they name
is served from the package (vendored with its licence)."""

from __future__ import annotations

import re

import httpx

from genloom.system.apidocs import ASSETS, ASSETS_DIR

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
