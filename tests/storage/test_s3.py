"""The S3 store against moto's S3 server over real HTTP (presigned URLs are used with httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from genloom.core.settings import Settings
from genloom.storage.errors import BlobNotFound, BlobTooLarge, InvalidKey
from genloom.storage.factory import create_blob_store
from genloom.storage.s3 import S3BlobStore


@pytest.fixture
async def store(s3_settings: Settings) -> AsyncIterator[S3BlobStore]:
    blobs = create_blob_store(s3_settings)
    assert isinstance(blobs, S3BlobStore)
    yield blobs
    await blobs.aclose()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_put_get_stat_delete(store: S3BlobStore) -> None:
    stat = await store.put("images/2026/11/23/a.png", b"\x89PNG\r\n\x1a\nxyz", mime="image/png")
    assert stat.size == 11 and stat.etag.startswith('"')
    assert await store.get("images/2026/11/23/a.png") == b"\x89PNG\r\n\x1a\nxyz"
    head = await store.stat("images/2026/11/23/a.png")
    assert head is not None and head.size == 11 and head.mime == "image/png" and head.etag == stat.etag
    await store.delete("images/2026/11/23/a.png")
    assert await store.stat("images/2026/11/23/a.png") is None
    with pytest.raises(BlobNotFound):
        await store.get("images/2026/11/23/a.png")


async def test_ranges_and_stream(store: S3BlobStore) -> None:
    data = bytes(range(256)) * 600
    await store.put_stream("r/data.bin", _chunks(data[:1000], data[1000:]), mime="application/octet-stream")
    assert b"".join([c async for c in store.open("r/data.bin")]) == data
    assert b"".join([c async for c in store.open("r/data.bin", start=5, end=9)]) == data[5:10]
    assert b"".join([c async for c in store.open("r/data.bin", start=100_000)]) == data[100_000:]
    with pytest.raises(BlobTooLarge):
        await store.put_stream("r/big.bin", _chunks(b"x" * 10, b"y" * 10), max_bytes=15)
    assert await store.stat("r/big.bin") is None


async def test_list_paginates_and_prefixes(store: S3BlobStore) -> None:
    store_keys = [f"images/2026/11/{day:02d}/img{n:04d}.png" for day in (23, 24) for n in range(520)]
    for key in store_keys[:5] + store_keys[520:525]:
        await store.put(key, b"p")
    # 1,040 objects cross the 1,000-per-page limit of ListObjectsV2 (put side by side: one at a time, the
    # thousand round trips to the S3 server took a minute and a half on a loaded machine)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.client.put_object(Bucket=store.bucket, Key=key, Body=b"p"),
                      store_keys[5:520] + store_keys[525:]))
    listed = await store.list("images/")
    assert [s.key for s in listed] == sorted(store_keys)
    assert [s.key for s in await store.list("images/2026/11/24/")] == sorted(store_keys[520:])
    assert await store.list_prefixes("images/2026/11/") == ["images/2026/11/23/", "images/2026/11/24/"]
    assert await store.list("images/", recursive=False) == []
    with pytest.raises(InvalidKey):
        await store.list("../")


async def test_prefix_setting_isolates_keys(s3_settings: Settings) -> None:
    scoped = create_blob_store(s3_settings.model_copy(update={"s3_prefix": "tenant-a/"}))
    plain = create_blob_store(s3_settings)
    try:
        await scoped.put("x/file.txt", b"a")
        assert [s.key for s in await scoped.list()] == ["x/file.txt"]
        assert [s.key for s in await plain.list()] == ["tenant-a/x/file.txt"]
    finally:
        await scoped.aclose()
        await plain.aclose()


async def test_presigned_get_and_put_over_http(store: S3BlobStore) -> None:
    await store.put("docs/hello.txt", b"hello world", mime="text/plain")
    async with httpx.AsyncClient() as http:
        response = await http.get(store.presign_get("docs/hello.txt", expires_s=60))
        assert response.status_code == 200 and response.content == b"hello world"
        assert (await http.get(store.url("docs/hello.txt"))).content == b"hello world"
        # the bucket is private: the same URL unsigned is refused
        unsigned = store.presign_get("docs/hello.txt").split("?", 1)[0]
        assert (await http.get(unsigned)).status_code == 403

        put = store.presign_put("uploads/u.png", mime="image/png", expires_s=60)
        assert put["method"] == "PUT"
        uploaded = await http.put(str(put["url"]), content=b"\x89PNG\r\n\x1a\nupload", headers=put["headers"])  # type: ignore[arg-type]
        assert uploaded.status_code == 200
    stat = await store.stat("uploads/u.png")
    assert stat is not None and stat.size == 14 and stat.mime == "image/png"


async def test_invalid_keys_refused(store: S3BlobStore) -> None:
    for key in ("../x", "/abs", "a\\b"):
        with pytest.raises(InvalidKey):
            await store.put(key, b"x")
        with pytest.raises(InvalidKey):
            store.presign_get(key)
