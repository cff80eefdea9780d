"""A media write interrupted while its bytes travel leaves nothing behind, on the local store and on S3 (moto's
server over HTTP): the put runs in a thread that goes on after a cancel, so the clean-up has to wait for it."""

from __future__ import annotations

import asyncio
import os

import pytest

from genloom.core.settings import Settings
from genloom.media import service as media_service
from genloom.storage.base import BlobStat, BlobStore
from genloom.storage.factory import create_blob_store
from genloom.storage.keys import job_asset_key
from genloom.storage.local import LocalBlobStore

BIG = 8 * 1024 * 1024  # large enough that the put is still in its thread when the cancels arrive


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, settings: Settings) -> BlobStore:
    if request.param == "s3":
        settings = request.getfixturevalue("s3_settings")
    return create_blob_store(settings)


class _Entered:
    """The real store, with an event set when a put begins (so the test cancels during the put, not before)."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.put_started = asyncio.Event()

    async def stat(self, key: str) -> BlobStat | None:
        return await self.inner.stat(key)

    async def put(self, key: str, data: bytes, *, mime: str | None = None) -> BlobStat:
        self.put_started.set()
        return await self.inner.put(key, data, mime=mime)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)


async def _in_its_thread(blobs: BlobStore) -> None:
    """Until the put runs in its thread: a cancel that comes first only withdraws the queued call (nothing to test)."""
    if isinstance(blobs, LocalBlobStore):  # the local store writes a dot-named temporary file first
        for _ in range(200):
            if any(blobs.root.rglob(".*.tmp")):
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the put never started writing")
    await asyncio.sleep(0.02)  # S3: the 8 MB body takes far longer than this to send to moto


async def test_a_write_cancelled_during_its_put_leaves_no_object(blobs: BlobStore) -> None:
    store = _Entered(blobs)
    keys: list[str] = []

    def key(asset_id: str, ext: str) -> str:
        keys.append(job_asset_key("job-cancelled", asset_id, ext))
        return keys[-1]

    write = asyncio.create_task(media_service.write_blob(
        store, owner_id="owner", data=os.urandom(BIG), kind="original", key=key,  # type: ignore[arg-type]
    ))
    await store.put_started.wait()
    await _in_its_thread(blobs)
    write.cancel()
    await asyncio.sleep(0)
    write.cancel()  # a job is often cancelled twice in a row: the clean-up must still run to its end
    with pytest.raises(asyncio.CancelledError):
        await write
    # whatever thread was still writing has had time to finish: the object must not appear after the fact
    await asyncio.sleep(1.0)
    assert keys and await blobs.stat(keys[0]) is None
    assert await blobs.list("jobs/") == []


async def test_a_write_that_completes_keeps_its_object(blobs: BlobStore) -> None:
    pending = await media_service.write_blob(blobs, owner_id="owner", data=os.urandom(1024), kind="original",
                                             key=lambda asset_id, ext: job_asset_key("job-kept", asset_id, ext))
    stat = await blobs.stat(pending.key)
    assert stat is not None and stat.size == 1024
