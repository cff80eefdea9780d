"""Nothing outside the media root is reachable: /media/<key>, /media/tree?dir=, /media/files?dir=, with plain,
encoded and double-encoded ``..``, backslashes, NUL, absolute paths and symlinks out of the root."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.runtime import Runtime
from genloom.storage.local import LocalBlobStore

SECRET = "TOP-SECRET-OUTSIDE-THE-MEDIA-ROOT"

KEYS = [
    "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "images/%2e%2e/%2e%2e/outside/secret.png",
    "%252e%252e/%252e%252e/outside/secret.png", "images%5c..%5c..%5coutside%5csecret.png", "images/a.png%00.jpg",
    "%2Fetc%2Fpasswd", "/etc/passwd", "C:%5cWindows%5cwin.ini", "images/..%252f..%252foutside/secret.png",
    ".%2e/outside/secret.png", "images/.hidden.tmp",
]


@pytest.fixture
def outside(runtime: Runtime) -> Path:
    """A secret file next to (not inside) the media root, plus symlinks from inside the root to it."""
    store = runtime.blobs
    assert isinstance(store, LocalBlobStore)
    out = store.root.parent / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.png").write_text(SECRET)
    (store.root / "images" / "2026").mkdir(parents=True, exist_ok=True)
    os.symlink(out, store.root / "images" / "2026" / "linkdir")
    os.symlink(out / "secret.png", store.root / "images" / "2026" / "link.png")
    os.symlink(out, store.root / "thumbs")
    return out


@pytest.mark.parametrize("key", KEYS)
async def test_media_keys_cannot_escape(client: httpx.AsyncClient, runtime: Runtime, outside: Path, key: str) -> None:
    for query in ("", "?exp=9999999999&sig=00"):
        r = await client.get(f"/media/{key}{query}")
        assert r.status_code in (400, 403, 404), (key, r.status_code)
        assert SECRET not in r.text


async def test_validly_signed_symlinks_are_refused(client: httpx.AsyncClient, runtime: Runtime, outside: Path) -> None:
    store = runtime.blobs
    assert isinstance(store, LocalBlobStore)
    for key in ("images/2026/linkdir/secret.png", "images/2026/link.png", "thumbs/secret.png"):
        url, _ = store.signer.sign(key, expires_s=60)
        r = await client.get(url)
        assert r.status_code in (400, 404), (key, r.status_code)
        assert SECRET not in r.text
        put_url, _ = store.signer.sign(key, expires_s=60, method="PUT", mime="image/png")
        r = await client.put(put_url, content=b"overwritten", headers={"Content-Type": "image/png"})
        assert r.status_code in (400, 404), (key, r.status_code)
    assert (outside / "secret.png").read_text() == SECRET


async def test_literal_dot_segments_over_a_real_socket(runtime: Runtime, live_server: Any, outside: Path) -> None:
    """httpx would normalise ``..`` away; a raw request line reaches the server as a client sent it."""
    async with live_server(workers=0) as url:
        host, port = url.removeprefix("http://").split(":")
        for target in ("/media/images/../../outside/secret.png?exp=9999999999&sig=00", "/media/../outside/secret.png",
                       "/media/tree?dir=images/../../outside", "/media/files?dir=images/2026/../../../outside",
                       "/media//etc/passwd"):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            raw = (await asyncio.wait_for(reader.read(), 20)).decode("latin-1")
            writer.close()
            status = int(raw.split(" ", 2)[1])
            assert status in (400, 403, 404), (target, raw[:200])
            assert SECRET not in raw


DIRS = ["..", "images/..", "images/../..", "../outside", "/etc", "~", "~root", "images\\..\\..", "images%2f..",
        "%2e%2e", "images/%2e%2e", "images/%252e%252e", "images/a\x00b", "C:/Windows", "images//2026", "outside",
        "images/2026/linkdir", "thumbs", "images/./2026", "images/2026/link.png/.."]


@pytest.mark.parametrize("route", ["/media/tree", "/media/files"])
async def test_media_browser_dirs_cannot_escape(client: httpx.AsyncClient, runtime: Runtime, outside: Path,
                                                route: str) -> None:
    for d in DIRS:
        r = await client.get(route, params={"dir": d})
        assert r.status_code == 400, (route, d, r.status_code, r.text)
        assert r.json()["data"]["field"] == "dir", (route, d, r.text)
    for d in ("", "images", "images/2026"):
        r = await client.get(route, params={"dir": d} if d else {})
        assert r.status_code == 200, (d, r.text)
        text = json.dumps(r.json())
        assert "secret.png" not in text and "linkdir" not in text and "link.png" not in text
