"""Bad input answers 4xx in HuaBan's shape ({"error": {"code", "message", "field"}}) and leaves nothing behind:
client id rules, wrong and spoofed types, oversize files (presign and upload), traversal and foreign keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from genloom.media.models import Asset
from genloom.runtime import Runtime
from tests.huaban.conftest import CLIENT_A, CLIENT_B, Huaban, drawing_png


def _error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    if field is not None:
        assert body["error"]["field"] == field
    return dict(body["error"])


async def _assets(runtime: Runtime) -> int:
    async with runtime.db.read_session() as session:
        return int((await session.execute(select(func.count()).select_from(Asset))).scalar_one())


@pytest.mark.parametrize("path", ["/gallery", "/grow/profile", "/grow/report", "/images"])
async def test_client_id_rules(client: httpx.AsyncClient, path: str) -> None:
    _error(await client.get(path), 400, "client_id_required", "X-Client-Id")
    _error(await client.get(path, headers={"X-Client-Id": "short"}), 400, "client_id_invalid", "X-Client-Id")
    _error(await client.get(path, headers={"X-Client-Id": "bad id with spaces"}), 400, "client_id_invalid")
    assert (await client.get(path, headers={"X-Client-Id": CLIENT_A})).status_code == 200
    _error(await client.post("/init", json={"clientId": "x"}), 400, "client_id_invalid", "X-Client-Id")


async def test_presign_refuses_wrong_type_and_size(client: httpx.AsyncClient, runtime: Runtime) -> None:
    app = Huaban(client, CLIENT_A)
    _error(await app.call("POST", "/upload/presign", json={"type": "original", "mime": "text/plain", "size": 10}),
           415, "unsupported_mime", "mime")
    _error(await app.call("POST", "/upload/presign", json={"type": "audio", "mime": "image/png", "size": 10}),
           415, "unsupported_mime", "mime")
    too_big = runtime.settings.huaban_max_image_bytes + 1
    _error(await app.call("POST", "/upload/presign", json={"type": "original", "mime": "image/png", "size": too_big}),
           413, "too_large", "size")
    _error(await app.call("POST", "/upload/presign", json={"type": "drawing", "mime": "image/png", "size": 10}),
           400, "validation_error", "type")
    _error(await app.call("POST", "/upload/presign", json={"type": "original", "mime": "image/png", "size": 10,
                                                          "artworkId": "no-such-artwork"}),
           404, "artwork_not_found", "artworkId")


async def test_commit_checks_what_arrived(client: httpx.AsyncClient, runtime: Runtime) -> None:
    app = Huaban(client, CLIENT_A)
    png = drawing_png()
    signed = (await app.call("POST", "/upload/presign",
                             json={"type": "original", "mime": "image/png", "size": len(png)})).json()
    commit = {"key": signed["key"], "mime": "image/png", "size": len(png)}
    _error(await app.call("POST", "/media/commit", json=commit), 404, "object_missing", "key")
    # a PNG header on text: the bytes are refused and deleted
    spoof = (b"\x89PNG\r\n\x1a\n" + b"not really a picture " * 100)[: len(png)].ljust(len(png), b"x")
    assert (await app.put_file(signed, spoof)).status_code == 200
    _error(await app.call("POST", "/media/commit", json=commit), 400, "mime_mismatch", "mime")
    assert await runtime.blobs.stat(signed["key"]) is None
    # plain text declared as PNG
    text = b"hello" * (len(png) // 5) + b"x" * (len(png) % 5)
    assert (await app.put_file(signed, text)).status_code == 200
    _error(await app.call("POST", "/media/commit", json=commit), 400, "mime_mismatch", "mime")
    assert await runtime.blobs.stat(signed["key"]) is None
    # a body longer than declared never lands (the signed URL caps it)
    too_long = await app.put_file(signed, png + b"extra")
    assert too_long.status_code == 413
    _error(await app.call("POST", "/media/commit", json={**commit, "size": len(png) + 1}), 400, "size_mismatch")
    _error(await app.call("POST", "/media/commit", json={**commit, "mime": "image/jpeg"}), 400, "mime_mismatch")
    # characters outside a key's alphabet fail the schema; a well-formed path that climbs out fails the key rules
    for bad in ("../etc/passwd", "/abs/key", "clients/a/%2e%2e/b", "a\\b"):
        _error(await app.call("POST", "/media/commit", json={**commit, "key": bad}), 400, "validation_error", "key")
    for bad in ("clients/../../x", "clients/./a", "clients//a"):
        _error(await app.call("POST", "/media/commit", json={**commit, "key": bad}), 400, "invalid_key", "key")
    # another client's key is unknown to this one
    other = Huaban(client, CLIENT_B)
    assert (await app.put_file(signed, png)).status_code == 200
    _error(await other.call("POST", "/media/commit", json=commit), 404, "upload_not_found", "key")
    assert await _assets(runtime) == 0
    done = await app.call("POST", "/media/commit", json=commit)
    assert done.status_code == 201
    twice = await app.call("POST", "/media/commit", json=commit)
    assert twice.status_code == 200 and twice.json()["id"] == done.json()["id"]
    assert await _assets(runtime) == 2  # the drawing and its thumbnail


async def test_direct_upload(client: httpx.AsyncClient, runtime: Runtime) -> None:
    app = Huaban(client, CLIENT_A)
    png = drawing_png()
    ok = await app.call("POST", "/media/upload", data={"type": "original"},
                        files={"file": ("d.png", png, "image/png")})
    assert ok.status_code == 201, ok.text
    assert ok.json()["key"].endswith("/original/v1/file.png") and ok.json()["size"] == len(png)
    _error(await app.call("POST", "/media/upload", data={"type": "original"},
                          files={"file": ("d.txt", b"just text", "text/plain")}), 415, "unsupported_mime")
    _error(await app.call("POST", "/media/upload", data={"type": "original"},
                          files={"file": ("d.png", b"\x89PNG\r\n\x1a\n" + b"x" * 500, "image/png")}),
           400, "mime_mismatch")
    cap = runtime.settings.huaban_max_image_bytes
    _error(await app.call("POST", "/media/upload", data={"type": "original"},
                          files={"file": ("big.png", png + b"\0" * cap, "image/png")}), 413, "too_large")
    _error(await app.call("POST", "/media/upload", data={"type": "bogus"},
                          files={"file": ("d.png", png, "image/png")}), 400, "validation_error", "type")
    assert await _assets(runtime) == 2
    keys = [s.key for s in await runtime.blobs.list("clients/")]
    assert len(keys) == 2  # the accepted drawing and its thumbnail; nothing of the refused ones


async def test_artwork_and_job_input(client: httpx.AsyncClient) -> None:
    app = Huaban(client, CLIENT_A)
    audio = await app.upload("audio", "audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28)
    _error(await app.call("POST", "/artworks", json={"title": "x", "coverAssetId": audio["id"]}), 400,
           "invalid_media", "coverAssetId")
    _error(await app.call("POST", "/artworks", json={"title": " ", "coverAssetId": audio["id"]}), 400,
           "validation_error", "title")
    _error(await app.call("POST", "/artworks", json={"title": "x", "coverAssetId": "missing"}), 404,
           "asset_not_found", "coverAssetId")
    _error(await app.call("POST", "/generation/jobs", json={"artworkId": "missing"}), 404, "artwork_not_found",
           "artworkId")
    _error(await app.call("POST", "/grow/profile", json={"age": 30}), 400, "validation_error", "age")
    _error(await app.call("GET", "/grow/report", params={"period": "year"}), 400, "validation_error", "period")
    _error(await app.call("GET", "/gallery", params={"limit": 51}), 400, "validation_error", "limit")


async def test_concurrent_commits_of_one_key(client: httpx.AsyncClient, runtime: Runtime) -> None:
    import asyncio

    app = Huaban(client, CLIENT_A)
    png = drawing_png()
    signed = (await app.call("POST", "/upload/presign",
                             json={"type": "original", "mime": "image/png", "size": len(png)})).json()
    await app.put_file(signed, png)
    commit = {"key": signed["key"], "mime": "image/png", "size": len(png)}
    answers = await asyncio.gather(*(app.call("POST", "/media/commit", json=commit) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _assets(runtime) == 2


async def test_one_generation_at_a_time(client: httpx.AsyncClient) -> None:
    import asyncio

    app = Huaban(client, CLIENT_A)
    art = await app.artwork(with_audio=False)
    answers = await asyncio.gather(*(app.call("POST", "/generation/jobs", json={"artworkId": art["id"]})
                                     for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"generation_in_progress"}
