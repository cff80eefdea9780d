from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from genloom.assembly import build_runtime, start_runtime
from genloom.core.principal import PUBLIC_OWNER
from genloom.core.settings import Settings
from genloom.media import service
from genloom.runtime import Runtime
from genloom.storage.local import LocalBlobStore
from tests.media.factories import png

DATA = bytes(range(256)) * 4096  # 1 MiB


def _path(url: str) -> str:
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


async def _stored(runtime: Runtime, key: str, data: bytes) -> str:
    await runtime.blobs.put(key, data)
    return _path(runtime.blobs.url(key))


class TestServeMedia:
    async def test_full_file_with_validators(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/pic.bin", png(20, 10))  # type from the bytes, not the name
        response = await client.get(url)
        assert response.status_code == 200
        assert response.content == png(20, 10)
        assert response.headers["content-type"] == "image/png"
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["etag"].startswith('"')
        assert response.headers["last-modified"].endswith("GMT")
        assert response.headers["content-length"] == str(len(png(20, 10)))
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_head(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/h.bin", DATA)
        response = await client.head(url)
        assert response.status_code == 200 and response.content == b""
        assert response.headers["content-length"] == str(len(DATA))

    async def test_conditional_requests(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/c.bin", DATA)
        first = await client.get(url)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            cached = await client.get(url, headers={"If-None-Match": header})
            assert cached.status_code == 304 and cached.content == b""
            assert cached.headers["etag"] == etag
        assert (await client.get(url, headers={"If-None-Match": '"stale"'})).status_code == 200
        assert (await client.get(url, headers={"If-Modified-Since": modified})).status_code == 304
        assert (await client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200
        # If-None-Match wins over If-Modified-Since
        both = await client.get(url, headers={"If-None-Match": '"stale"', "If-Modified-Since": modified})
        assert both.status_code == 200

    async def test_etag_changes_when_file_replaced(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/r.bin", b"one")
        etag = (await client.get(url)).headers["etag"]
        await runtime.blobs.put("blobs/r.bin", b"two")
        response = await client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200 and response.content == b"two"

    @pytest.mark.parametrize(
        ("header", "start", "end"),
        [("bytes=0-9", 0, 9), ("bytes=1000-", 1000, len(DATA) - 1), ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
         ("bytes=500000-500099", 500000, 500099), ("bytes=100-99999999", 100, len(DATA) - 1)],
    )
    async def test_ranges(self, client: httpx.AsyncClient, runtime: Runtime, header: str, start: int, end: int) -> None:
        url = await _stored(runtime, "blobs/range.bin", DATA)
        response = await client.get(url, headers={"Range": header})
        assert response.status_code == 206
        assert response.content == DATA[start : end + 1]
        assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
        assert response.headers["content-length"] == str(end - start + 1)

    async def test_unsatisfiable_and_ignored_ranges(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/u.bin", b"0123456789")
        response = await client.get(url, headers={"Range": "bytes=10-20"})
        assert response.status_code == 416
        assert response.headers["content-range"] == "bytes */10"
        assert response.json()["code"] == "range_not_satisfiable"
        for ignored in ("bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=abc"):
            whole = await client.get(url, headers={"Range": ignored})
            assert whole.status_code == 200 and whole.content == b"0123456789"

    async def test_if_range(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/ir.bin", b"0123456789")
        etag = (await client.get(url)).headers["etag"]
        partial = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
        assert partial.status_code == 206 and partial.content == b"01"
        stale = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"old"'})
        assert stale.status_code == 200 and stale.content == b"0123456789"

    async def test_signature_required(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/s.bin", b"secret")
        path, query = url.split("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        unsigned = await client.get(path)
        assert unsigned.status_code == 403 and unsigned.json()["code"] == "invalid_signature"
        tampered = await client.get(path, params={"exp": params["exp"], "sig": "0" * 64})
        assert tampered.status_code == 403 and tampered.json()["code"] == "invalid_signature"
        other_key = await client.get("/media/blobs/t.bin", params=params)
        assert other_key.status_code == 403
        assert isinstance(runtime.blobs, LocalBlobStore)
        expired_url, _ = runtime.blobs.signer.sign("blobs/s.bin", expires_s=-10)
        expired = await client.get(_path(expired_url))
        assert expired.status_code == 403 and expired.json()["code"] == "signature_expired"

    async def test_missing_file(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        response = await client.get(_path(runtime.blobs.url("blobs/none.bin")))
        assert response.status_code == 404 and response.json()["code"] == "media_not_found"

    @pytest.mark.parametrize(
        "raw",
        ["/media/%2e%2e/%2e%2e/etc/passwd", "/media/..%2f..%2fetc%2fpasswd", "/media/a%5c..%5c..%5csecret.txt",
         "/media/%2fetc%2fpasswd", "/media/blobs/%252e%252e/secret.txt", "/media/blobs/a%00b"],
    )
    async def test_traversal_never_leaves_root(self, client: httpx.AsyncClient, runtime: Runtime, raw: str) -> None:
        assert isinstance(runtime.blobs, LocalBlobStore)
        (runtime.blobs.root.parent / "secret.txt").write_bytes(b"TOP SECRET")
        response = await client.get(raw + "?exp=9999999999&sig=" + "0" * 64)
        assert response.status_code in (400, 404)
        assert b"TOP SECRET" not in response.content

    async def test_symlink_out_of_root(self, client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> None:
        assert isinstance(runtime.blobs, LocalBlobStore)
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(b"TOP SECRET")
        os.symlink(outside, runtime.blobs.root / "escape")
        # even a correctly signed URL cannot read through the link
        url, _ = runtime.blobs.signer.sign("escape/secret.txt", expires_s=60)
        response = await client.get(_path(url))
        assert response.status_code in (400, 404)
        assert b"TOP SECRET" not in response.content

    async def test_cinemind_media_paths_are_not_captured(self, client: httpx.AsyncClient) -> None:
        for path in ("/media/tree", "/media/files"):
            response = await client.get(path)
            assert response.status_code != 403  # not treated as an unsigned file download


class TestUpload:
    async def test_presigned_put(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        put = runtime.blobs.presign_put("uploads/u1.png", mime="image/png", max_bytes=10_000)
        body = png(10, 10)
        response = await client.put(_path(str(put["url"])), content=body, headers={"Content-Type": "image/png"})
        assert response.status_code == 200, response.text
        assert response.json()["size"] == len(body) and response.headers["etag"] == response.json()["etag"]
        assert await runtime.blobs.get("uploads/u1.png") == body

    async def test_presigned_put_keeps_json_bytes_as_they_are(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        # API bodies refuse NUL; an uploaded file is bytes, not fields, so it is stored untouched
        put = runtime.blobs.presign_put("uploads/u3.json", mime="application/json", max_bytes=10_000)
        body = b'{"text": "a\\u0000b"}'
        response = await client.put(_path(str(put["url"])), content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        assert await runtime.blobs.get("uploads/u3.json") == body

    async def test_put_checks_type_size_and_signature(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        put = runtime.blobs.presign_put("uploads/u2.png", mime="image/png", max_bytes=100)
        url = _path(str(put["url"]))
        wrong_type = await client.put(url, content=b"x", headers={"Content-Type": "text/html"})
        assert wrong_type.status_code == 403
        too_big = await client.put(url, content=b"x" * 101, headers={"Content-Type": "image/png"})
        assert too_big.status_code == 413 and too_big.json()["code"] == "blob_too_large"
        assert await runtime.blobs.stat("uploads/u2.png") is None
        get_url = _path(runtime.blobs.url("uploads/u2.png"))
        as_put = await client.put(get_url, content=b"x", headers={"Content-Type": "image/png"})
        assert as_put.status_code == 403  # a download signature does not allow uploads


class TestAssetsApi:
    async def test_list_and_get(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        async with runtime.db.session() as session:
            mine, thumb = await service.store_image_with_thumbnail(
                session, runtime.blobs, owner_id=PUBLIC_OWNER, data=png(640, 320), key="a/mine.png",
                thumb_key="a/mine_thumb.jpg", job_id="job-1",
            )
            theirs = await service.store_asset(session, runtime.blobs, owner_id="someone-else", data=png(),
                                               kind="image", key="a/theirs.png")
        listing = await client.get("/v1/assets")
        assert listing.status_code == 200
        body = listing.json()
        assert {item["id"] for item in body["items"]} == {mine.id, thumb.id}
        assert body["next_cursor"] is None
        item = (await client.get(f"/v1/assets/{mine.id}")).json()
        assert set(item) >= {"id", "kind", "mime", "size", "sha256", "width", "height", "url", "created_at"}
        assert (item["kind"], item["mime"], item["width"], item["height"]) == ("image", "image/png", 640, 320)
        downloaded = await client.get(_path(item["url"]))
        assert downloaded.status_code == 200 and downloaded.content == png(640, 320)
        missing = await client.get(f"/v1/assets/{theirs.id}")
        assert missing.status_code == 404 and missing.json()["code"] == "asset_not_found"
        only_thumbs = (await client.get("/v1/assets", params={"kind": "thumb"})).json()
        assert [i["id"] for i in only_thumbs["items"]] == [thumb.id]
        by_job = (await client.get("/v1/assets", params={"job_id": "job-1", "limit": 1})).json()
        assert len(by_job["items"]) == 1 and by_job["next_cursor"]
        rest = (await client.get("/v1/assets", params={"job_id": "job-1", "cursor": by_job["next_cursor"]})).json()
        assert {by_job["items"][0]["id"], rest["items"][0]["id"]} == {mine.id, thumb.id}

    async def test_delete(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        async with runtime.db.session() as session:
            mine, thumb = await service.store_image_with_thumbnail(
                session, runtime.blobs, owner_id=PUBLIC_OWNER, data=png(400, 400), key="d/mine.png",
                thumb_key="d/mine_thumb.jpg",
            )
            theirs = await service.store_asset(session, runtime.blobs, owner_id="someone-else", data=png(),
                                               kind="image", key="d/theirs.png")
        forbidden = await client.delete(f"/v1/assets/{theirs.id}")
        assert forbidden.status_code == 404 and forbidden.json()["code"] == "asset_not_found"
        deleted = await client.delete(f"/v1/assets/{mine.id}")
        assert deleted.status_code == 204
        await service.wait_for_cleanups()
        assert [s.key for s in await runtime.blobs.list("d/")] == ["d/theirs.png"]
        assert (await client.get(f"/v1/assets/{mine.id}")).status_code == 404
        assert (await client.get(f"/v1/assets/{thumb.id}")).status_code == 404
        assert (await client.delete(f"/v1/assets/{mine.id}")).status_code == 404

    async def test_bad_queries(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/assets", params={"kind": "bogus"})).json()["code"] == "invalid_input"
        assert (await client.get("/v1/assets", params={"cursor": "!!!"})).status_code == 400
        assert (await client.get("/v1/assets", params={"limit": 0})).status_code == 400


@pytest.fixture
async def s3_runtime(settings: Settings, s3_settings: Settings) -> AsyncIterator[Runtime]:
    s3_fields = s3_settings.model_dump(include={"storage", "s3_endpoint", "s3_bucket", "s3_force_path_style",
                                                "s3_access_key_id", "s3_secret_access_key", "s3_region"})
    rt = build_runtime(settings.model_copy(update=s3_fields))
    await start_runtime(rt, migrate=False)
    try:
        yield rt
    finally:
        await rt.close()


async def test_s3_media_redirects_to_presigned_url(s3_runtime: Runtime) -> None:
    from genloom.app import create_app
    from genloom.surfaces.native.media import _signer

    await s3_runtime.blobs.put("blobs/s3.txt", b"from the bucket", mime="text/plain")
    app = create_app(runtime=s3_runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            url, _ = _signer(s3_runtime).sign("blobs/s3.txt", expires_s=60)
            response = await c.get(url)
            assert response.status_code == 307
            assert (await c.get("/media/files/s3.txt")).status_code == 403
    async with httpx.AsyncClient() as http:
        fetched = await http.get(response.headers["location"])
        assert fetched.status_code == 200 and fetched.content == b"from the bucket"


class TestOverRealHttp:
    async def test_ranges_and_conditional_over_a_socket(self, live_server, runtime: Runtime) -> None:
        url = await _stored(runtime, "blobs/live.bin", DATA)
        async with live_server() as base, httpx.AsyncClient(base_url=base) as http:
            whole = await http.get(url)
            assert whole.status_code == 200 and whole.content == DATA
            part = await http.get(url, headers={"Range": "bytes=65530-65545"})
            assert part.status_code == 206 and part.content == DATA[65530:65546]
            assert (await http.get(url, headers={"If-None-Match": whole.headers["etag"]})).status_code == 304

    @pytest.mark.parametrize(
        "target",
        ["/media/../../etc/passwd", "/media/blobs/../../../secret.txt", "/media/%2e%2e/secret.txt",
         "/media/..%5csecret.txt", "/media//etc/passwd"],
    )
    async def test_raw_traversal_requests(self, live_server, runtime: Runtime, target: str) -> None:
        """Raw request lines, so no client normalises the path before the server sees it."""
        import asyncio

        assert isinstance(runtime.blobs, LocalBlobStore)
        (runtime.blobs.root.parent / "secret.txt").write_bytes(b"TOP SECRET")
        async with live_server() as base:
            host, port = base.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            request = f"GET {target}?exp=9999999999&sig={'0' * 64} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            writer.write(request.encode())
            await writer.drain()
            raw = await reader.read()
            writer.close()
        status = int(raw.split(b" ", 2)[1])
        assert status in (400, 403, 404)
        assert b"TOP SECRET" not in raw
