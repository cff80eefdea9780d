from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from genloom.core.errors import Conflict
from genloom.core.principal import Principal
from genloom.media import service
from genloom.media.errors import InvalidMedia
from genloom.media.models import Asset
from genloom.runtime import Runtime
from genloom.storage.errors import InvalidKey
from tests.media.factories import png


async def _count(runtime: Runtime) -> int:
    async with runtime.db.read_session() as session:
        return int((await session.execute(select(func.count()).select_from(Asset))).scalar_one())


async def test_store_asset_writes_blob_and_row(runtime: Runtime) -> None:
    data = png(30, 20)
    async with runtime.db.session() as session:
        asset = await service.store_asset(session, runtime.blobs, owner_id="u1", data=data, kind="image",
                                          key=lambda asset_id, ext: f"t/{asset_id}.{ext}", job_id="job-1")
    assert asset.key == f"t/{asset.id}.png"
    assert (asset.mime, asset.width, asset.height, asset.size, asset.kind) == ("image/png", 30, 20, len(data), "image")
    assert await runtime.blobs.get(asset.key) == data
    async with runtime.db.read_session() as session:
        row = await service.get_asset(session, Principal(owner_id="u1", kind="user"), asset.id)
        assert row is not None and row.sha256 == asset.sha256 and row.job_id == "job-1" and row.etag
        assert await service.get_asset(session, Principal(owner_id="u2", kind="user"), asset.id) is None


async def test_store_asset_refuses_to_overwrite(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        await service.store_asset(session, runtime.blobs, owner_id="u1", data=b"first", kind="original", key="k/a.bin")
    with pytest.raises(Conflict):
        async with runtime.db.session() as session:
            await service.store_asset(session, runtime.blobs, owner_id="u1", data=b"second", kind="original",
                                      key="k/a.bin")
    assert await runtime.blobs.get("k/a.bin") == b"first"
    assert await _count(runtime) == 1


async def test_failed_row_leaves_no_file(runtime: Runtime) -> None:
    with pytest.raises(IntegrityError):
        async with runtime.db.session() as session:
            # derived_from names an asset that does not exist: the insert fails on its foreign key
            await service.store_asset(session, runtime.blobs, owner_id="u1", data=png(), kind="image",
                                      key="orphans/a.png", derived_from="00000000-0000-7000-8000-000000000000")
    assert await runtime.blobs.stat("orphans/a.png") is None
    assert await runtime.blobs.list() == []
    assert await _count(runtime) == 0


async def test_image_with_thumbnail(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        original, thumb = await service.store_image_with_thumbnail(
            session, runtime.blobs, owner_id="u1", data=png(1200, 600), key="img/a.png",
            thumb_key=lambda asset_id, ext: f"img/a_thumb.{ext}", job_id="job-9",
        )
    assert (original.width, original.height, original.kind) == (1200, 600, "image")
    assert (thumb.width, thumb.height, thumb.kind, thumb.mime) == (320, 160, "thumb", "image/jpeg")
    assert thumb.derived_from == original.id and thumb.key == "img/a_thumb.jpg"
    with Image.open(io.BytesIO(await runtime.blobs.get(thumb.key))) as im:
        assert im.size == (320, 160)
    assert await _count(runtime) == 2


async def test_image_with_thumbnail_all_or_nothing(runtime: Runtime) -> None:
    with pytest.raises(InvalidKey):
        async with runtime.db.session() as session:
            await service.store_image_with_thumbnail(session, runtime.blobs, owner_id="u1", data=png(),
                                                     key="img/b.png", thumb_key="../escape.jpg")
    assert await runtime.blobs.list() == []
    with pytest.raises(InvalidMedia):
        async with runtime.db.session() as session:
            await service.store_image_with_thumbnail(session, runtime.blobs, owner_id="u1", data=b"not an image",
                                                     key="img/c.png", thumb_key="img/c_thumb.jpg")
    assert await runtime.blobs.list() == []
    assert await _count(runtime) == 0


async def test_list_assets_pages_and_scopes(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        for n in range(5):
            await service.store_asset(session, runtime.blobs, owner_id="u1", data=png(8 + n, 8), kind="image",
                                      key=f"p/{n}.png")
        await service.store_asset(session, runtime.blobs, owner_id="u2", data=png(), kind="image", key="p/other.png")
    me = Principal(owner_id="u1", kind="user")
    seen: list[str] = []
    cursor = None
    async with runtime.db.read_session() as session:
        while True:
            rows, cursor = await service.list_assets(session, me, limit=2, cursor=cursor)
            seen += [r.key for r in rows]
            if cursor is None:
                break
    # ids are time-ordered to the millisecond; within one millisecond the order is arbitrary
    assert len(seen) == 5 and sorted(seen) == [f"p/{n}.png" for n in range(5)]


async def test_rollback_after_store_deletes_the_files(runtime: Runtime) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with runtime.db.session() as session:
            await service.store_image_with_thumbnail(session, runtime.blobs, owner_id="u1", data=png(),
                                                     key="rb/a.png", thumb_key="rb/a_thumb.jpg")
            assert len(await runtime.blobs.list("rb/")) == 2
            raise Boom()  # the caller fails after the service returned: its transaction rolls back
    await service.wait_for_cleanups()
    assert await runtime.blobs.list() == []
    assert await _count(runtime) == 0
    # a committed store is left alone
    async with runtime.db.session() as session:
        await service.store_asset(session, runtime.blobs, owner_id="u1", data=b"keep", kind="original", key="rb/k.bin")
    await service.wait_for_cleanups()
    assert await runtime.blobs.get("rb/k.bin") == b"keep"


async def test_delete_keeps_files_when_the_transaction_rolls_back(runtime: Runtime) -> None:
    me = Principal(owner_id="u1", kind="user")
    async with runtime.db.session() as session:
        asset = await service.store_asset(session, runtime.blobs, owner_id="u1", data=b"data", kind="original",
                                          key="del/a.bin")
    with pytest.raises(RuntimeError):
        async with runtime.db.session() as session:
            assert await service.delete_asset(session, runtime.blobs, me, asset.id) == [asset.id]
            raise RuntimeError("the request failed after the delete")
    await service.wait_for_cleanups()
    assert await runtime.blobs.get("del/a.bin") == b"data"
    assert await _count(runtime) == 1
    async with runtime.db.session() as session:
        await service.delete_asset(session, runtime.blobs, me, asset.id)
    await service.wait_for_cleanups()
    assert await runtime.blobs.stat("del/a.bin") is None
    assert await _count(runtime) == 0
