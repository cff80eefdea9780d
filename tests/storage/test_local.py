from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from genloom.storage.errors import BlobNotFound, BlobTooLarge, InvalidKey
from genloom.storage.local import LocalBlobStore
from genloom.storage.signing import UrlSigner

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "media", UrlSigner("secret"), expires_s=120)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_put_get_stat_delete(store: LocalBlobStore) -> None:
    stat = await store.put("images/2026/11/23/a.png", PNG_HEAD, mime="image/png")
    assert stat.size == len(PNG_HEAD) and stat.etag.startswith('"') and stat.etag.endswith('"')
    assert stat.mime == "image/png"
    assert await store.get("images/2026/11/23/a.png") == PNG_HEAD
    again = await store.stat("images/2026/11/23/a.png")
    assert again is not None and again.etag == stat.etag and again.size == stat.size
    assert (store.root / "images/2026/11/23/a.png").read_bytes() == PNG_HEAD
    await store.delete("images/2026/11/23/a.png")
    assert await store.stat("images/2026/11/23/a.png") is None
    assert not (store.root / "images").exists()  # emptied folders are pruned
    await store.delete("images/2026/11/23/a.png")  # deleting twice is fine
    with pytest.raises(BlobNotFound):
        await store.get("images/2026/11/23/a.png")


async def test_replace_changes_etag_and_leaves_no_temp_files(store: LocalBlobStore) -> None:
    first = await store.put("a/b.bin", b"one")
    second = await store.put("a/b.bin", b"two!")
    assert first.etag != second.etag
    assert await store.get("a/b.bin") == b"two!"
    assert sorted(p.name for p in (store.root / "a").iterdir()) == ["b.bin"]


async def test_atomic_write_failure_keeps_old_file(store: LocalBlobStore) -> None:
    await store.put("doc/x.bin", b"old")

    async def failing() -> AsyncIterator[bytes]:
        yield b"new-part"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put_stream("doc/x.bin", failing())
    assert await store.get("doc/x.bin") == b"old"
    assert sorted(p.name for p in (store.root / "doc").iterdir()) == ["x.bin"]


async def test_put_stream_and_limit(store: LocalBlobStore) -> None:
    stat = await store.put_stream("s/file.bin", _chunks(b"ab", b"cd", b"ef"), max_bytes=6)
    assert stat.size == 6 and await store.get("s/file.bin") == b"abcdef"
    with pytest.raises(BlobTooLarge):
        await store.put_stream("s/big.bin", _chunks(b"abc", b"def", b"g"), max_bytes=6)
    assert await store.stat("s/big.bin") is None
    assert sorted(p.name for p in (store.root / "s").iterdir()) == ["file.bin"]


async def test_open_ranges_stream(store: LocalBlobStore) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: several chunks
    await store.put("r/data.bin", data)
    assert b"".join([c async for c in store.open("r/data.bin")]) == data
    assert b"".join([c async for c in store.open("r/data.bin", start=10, end=19)]) == data[10:20]
    assert b"".join([c async for c in store.open("r/data.bin", start=70000)]) == data[70000:]
    chunks = [c async for c in store.open("r/data.bin")]
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 64 * 1024
    with pytest.raises(BlobNotFound):
        [c async for c in store.open("r/missing.bin")]


@pytest.mark.parametrize("key", ["../outside.txt", "/etc/passwd", "a/../../x", "a\\..\\x", "%2e%2e/x"])
async def test_traversal_keys_refused(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put(key, b"x")
    with pytest.raises(InvalidKey):
        await store.get(key)
    with pytest.raises(InvalidKey):
        await store.stat(key)
    assert not (store.root.parent / "outside.txt").exists()


async def test_symlink_out_of_root_refused(store: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"top secret")
    os.symlink(outside, store.root / "link")
    os.symlink(outside / "secret.txt", store.root / "file-link.txt")
    for key in ("link/secret.txt", "file-link.txt"):
        with pytest.raises(InvalidKey) as info:
            await store.get(key)
        assert info.value.code == "key_outside_store"
        with pytest.raises(InvalidKey):
            await store.stat(key)
    with pytest.raises(InvalidKey):
        await store.put("link/new.txt", b"escape")
    assert not (outside / "new.txt").exists()
    listed = [s.key for s in await store.list()]
    assert listed == []  # symlinks are never listed


async def test_symlink_inside_root_allowed(store: LocalBlobStore) -> None:
    await store.put("real/a.txt", b"hello")
    os.symlink(store.root / "real", store.root / "alias")
    assert await store.get("alias/a.txt") == b"hello"


async def test_list_and_prefixes(store: LocalBlobStore) -> None:
    for key in ("images/2026/11/23/a.png", "images/2026/11/24/b.png", "thumbs/2026/11/23/a_thumb.jpg", "top.bin"):
        await store.put(key, PNG_HEAD)
    (store.root / "images/2026/11/23/.a.png.0000.tmp").write_bytes(b"partial")  # a write in progress
    assert [s.key for s in await store.list()] == [
        "images/2026/11/23/a.png", "images/2026/11/24/b.png", "thumbs/2026/11/23/a_thumb.jpg", "top.bin",
    ]
    assert [s.key for s in await store.list("images/")] == ["images/2026/11/23/a.png", "images/2026/11/24/b.png"]
    assert [s.key for s in await store.list("images/2026/11/2")] == ["images/2026/11/23/a.png", "images/2026/11/24/b.png"]
    assert [s.key for s in await store.list("images/2026/11/24/")] == ["images/2026/11/24/b.png"]
    assert [s.key for s in await store.list("", recursive=False)] == ["top.bin"]
    assert await store.list("nothing/") == []
    assert await store.list_prefixes("") == ["images/", "thumbs/"]
    assert await store.list_prefixes("images/2026/11/") == ["images/2026/11/23/", "images/2026/11/24/"]
    with pytest.raises(InvalidKey):
        await store.list("../")


async def test_urls_are_signed(store: LocalBlobStore) -> None:
    url = store.url("images/a.png")
    assert url.startswith("/media/images/a.png?exp=") and "&sig=" in url
    put = store.presign_put("uploads/u.png", mime="image/png", max_bytes=1000)
    assert put["method"] == "PUT" and put["headers"] == {"Content-Type": "image/png"}
    assert "max=1000" in str(put["url"])
    with pytest.raises(InvalidKey):
        store.url("../x")
