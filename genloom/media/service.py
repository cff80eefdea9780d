"""Storing media: blob(s) plus Asset rows, all or nothing.

Writing happens in two steps so that pipelines never hold a database transaction while bytes travel to disk or
S3: :func:`write_blob` / :func:`write_image_with_thumbnail` put the bytes and return :class:`PendingAsset`s,
:func:`add_assets` inserts their rows in a short session, and :func:`discard` deletes the bytes again when
that fails. :func:`store_asset` and :func:`store_image_with_thumbnail` do all of it for callers that already
hold a session (request handlers). Services never commit, so those two also watch the caller's transaction:
if it rolls back instead of committing, the bytes are deleted (:func:`track_until_commit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.aio import run_to_end
from genloom.core.errors import Conflict, InvalidInput
from genloom.core.ids import new_id
from genloom.core.paging import decode_cursor, encode_cursor
from genloom.core.principal import Principal, scoped
from genloom.media import images
from genloom.media.errors import AssetNotFound, InvalidMedia
from genloom.media.models import Asset
from genloom.storage.base import BlobStore
from genloom.storage.mime import extension_for

log = logging.getLogger("genloom.media")

#: builds a key from (asset id, file extension)
KeyFn = Callable[[str, str], str]
ASSET_KINDS = frozenset({"original", "image", "thumb", "audio", "video", "analysis"})
_PENDING = "genloom.media.pending"  # session.info: blobs whose rows are not committed yet
_DOOMED = "genloom.media.doomed"  # session.info: blobs to delete once their rows' deletion commits
_HOOKED = "genloom.media.hooked"
_cleanups: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class PendingAsset:
    """Bytes already in the blob store whose Asset row is not inserted yet."""

    id: str
    owner_id: str
    kind: str
    key: str
    info: images.MediaInfo
    etag: str
    derived_from: str | None = None
    job_id: str | None = None
    mime: str | None = None

    def to_row(self) -> Asset:
        return Asset(
            id=self.id, owner_id=self.owner_id, kind=self.kind, key=self.key, mime=self.mime or self.info.mime,
            size=self.info.size, sha256=self.info.sha256, etag=self.etag, width=self.info.width,
            height=self.info.height, derived_from=self.derived_from, job_id=self.job_id, state="committed",
        )


def _resolve_key(key: str | KeyFn, asset_id: str, mime: str) -> str:
    return key(asset_id, extension_for(mime)) if callable(key) else key


async def write_blob(
    blobs: BlobStore,
    *,
    owner_id: str,
    data: bytes,
    kind: str,
    key: str | KeyFn,
    asset_id: str | None = None,
    derived_from: str | None = None,
    job_id: str | None = None,
    info: images.MediaInfo | None = None,
    mime: str | None = None,
) -> PendingAsset:
    """Probe ``data`` (type sniffed from the bytes) and write it to the store; no row yet."""
    if kind not in ASSET_KINDS:
        raise InvalidInput(f"unknown asset kind {kind!r}", field="kind")
    if not data:
        raise InvalidMedia("the file is empty", field="file")
    info = info or await images.probe_async(data)
    asset_id = asset_id or new_id()
    stored_mime = mime or info.mime
    resolved = _resolve_key(key, asset_id, stored_mime)
    if await blobs.stat(resolved) is not None:
        # never overwrite: the bytes may belong to another asset, and a rollback would then delete them
        raise Conflict("a file with this key already exists", code="key_exists", field="key")
    try:
        # to its end even when cancelled: a put running in a thread goes on, and deleting the key before it
        # lands would leave the object behind
        stat = await run_to_end(blobs.put(resolved, data, mime=stored_mime))
    except BaseException:
        # a put that failed (a timeout after the bytes arrived) or was interrupted may still have stored them
        await _forget(blobs, [resolved])
        raise
    return PendingAsset(id=asset_id, owner_id=owner_id, kind=kind, key=resolved, info=info, etag=stat.etag,
                        derived_from=derived_from, job_id=job_id, mime=stored_mime)


async def discard(blobs: BlobStore, pending: Sequence[PendingAsset]) -> None:
    """Delete written bytes whose rows will never exist (best effort: a failure is logged, not raised).

    Runs to its end when the caller is cancelled again meanwhile (a job canceled while it stores)."""
    await _forget(blobs, [item.key for item in pending])


async def _forget(blobs: BlobStore, keys: Sequence[str]) -> None:
    async def delete_all() -> None:
        for key in keys:
            try:
                await blobs.delete(key)
            except Exception:  # noqa: BLE001 - cleanup must not hide the original error
                log.warning("media.discard_failed key=%s", key, exc_info=True)

    await run_to_end(delete_all())


async def add_assets(session: AsyncSession, pending: Sequence[PendingAsset]) -> list[Asset]:
    """Insert the rows of written blobs, parents before the files derived from them."""
    rows: list[Asset] = []
    for item in pending:
        row = item.to_row()
        session.add(row)
        await session.flush()
        rows.append(row)
    return rows


def _schedule(pairs: list[tuple[BlobStore, str]]) -> None:
    if not pairs:
        return
    # Session events are synchronous; the deletes run as a task on the session's own event loop.
    task = asyncio.get_running_loop().create_task(_delete_keys(pairs))
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)


async def _delete_keys(pairs: list[tuple[BlobStore, str]]) -> None:
    for blobs, key in pairs:
        try:
            await blobs.delete(key)
        except Exception:  # noqa: BLE001 - a leftover file is logged, never raised into the caller
            log.warning("media.delete_failed key=%s", key, exc_info=True)


def _on_commit(sync_session: Any) -> None:
    sync_session.info.pop(_PENDING, None)
    _schedule(sync_session.info.pop(_DOOMED, []))


def _on_rollback(sync_session: Any) -> None:
    sync_session.info.pop(_DOOMED, None)
    _schedule(sync_session.info.pop(_PENDING, []))


def _hook(session: AsyncSession) -> dict[str, Any]:
    sync = session.sync_session
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        event.listen(sync, "after_commit", _on_commit)
        event.listen(sync, "after_rollback", _on_rollback)
    info: dict[str, Any] = sync.info
    return info


def track_until_commit(session: AsyncSession, blobs: BlobStore, pending: Sequence[PendingAsset]) -> None:
    """Delete these blobs if ``session``'s transaction rolls back later (the caller commits, not the service)."""
    _hook(session).setdefault(_PENDING, []).extend((blobs, item.key) for item in pending)


def delete_after_commit(session: AsyncSession, blobs: BlobStore, keys: Sequence[str]) -> None:
    """Delete these blobs once ``session`` commits (a rollback keeps them: their rows are back)."""
    _hook(session).setdefault(_DOOMED, []).extend((blobs, key) for key in keys)


async def wait_for_cleanups() -> None:
    """Wait for blob deletes scheduled by rolled-back sessions (tests; graceful shutdown)."""
    while _cleanups:
        await asyncio.gather(*list(_cleanups), return_exceptions=True)


async def store_asset(
    session: AsyncSession,
    blobs: BlobStore,
    *,
    owner_id: str,
    data: bytes,
    kind: str,
    key: str | KeyFn,
    derived_from: str | None = None,
    job_id: str | None = None,
) -> Asset:
    """Write one file and its Asset row; on any failure nothing of it remains."""
    pending = await write_blob(blobs, owner_id=owner_id, data=data, kind=kind, key=key,
                               derived_from=derived_from, job_id=job_id)
    try:
        [asset] = await add_assets(session, [pending])
    except BaseException:
        await discard(blobs, [pending])
        raise
    track_until_commit(session, blobs, [pending])
    return asset


async def write_image_with_thumbnail(
    blobs: BlobStore,
    *,
    owner_id: str,
    data: bytes,
    key: str | KeyFn,
    thumb_key: str | KeyFn,
    kind: str = "image",
    derived_from: str | None = None,
    job_id: str | None = None,
) -> tuple[PendingAsset, PendingAsset]:
    """Write an image and its thumbnail (longest side 320 px); both or neither end up in the store."""
    info = await images.probe_async(data)
    if info.width is None:
        raise InvalidMedia("the file is not an image", field="file")
    thumb = await images.thumbnail_async(data)
    original = await write_blob(blobs, owner_id=owner_id, data=data, kind=kind, key=key, info=info,
                                derived_from=derived_from, job_id=job_id)
    try:
        thumb_info = images.MediaInfo(mime=thumb.mime, size=len(thumb.data), sha256=images.sha256_hex(thumb.data),
                                      width=thumb.width, height=thumb.height)
        small = await write_blob(blobs, owner_id=owner_id, data=thumb.data, kind="thumb", key=thumb_key,
                                 info=thumb_info, derived_from=original.id, job_id=job_id)
    except BaseException:
        await discard(blobs, [original])
        raise
    return original, small


async def store_image_with_thumbnail(
    session: AsyncSession,
    blobs: BlobStore,
    *,
    owner_id: str,
    data: bytes,
    key: str | KeyFn,
    thumb_key: str | KeyFn,
    kind: str = "image",
    derived_from: str | None = None,
    job_id: str | None = None,
) -> tuple[Asset, Asset]:
    """Write an image, its thumbnail and both Asset rows; on any failure nothing of them remains."""
    pending = await write_image_with_thumbnail(blobs, owner_id=owner_id, data=data, key=key, thumb_key=thumb_key,
                                               kind=kind, derived_from=derived_from, job_id=job_id)
    try:
        original, thumb = await add_assets(session, pending)
    except BaseException:
        await discard(blobs, pending)
        raise
    track_until_commit(session, blobs, pending)
    return original, thumb


# --- reads ------------------------------------------------------------------------------------------------


async def get_asset(session: AsyncSession, principal: Principal, asset_id: str) -> Asset | None:
    """The asset if the caller may read it, else None."""
    stmt = scoped(select(Asset).where(Asset.id == asset_id), Asset.owner_id, principal, "assets")
    result: Asset | None = (await session.execute(stmt)).scalar_one_or_none()
    return result


async def get_asset_or_raise(session: AsyncSession, principal: Principal, asset_id: str) -> Asset:
    asset = await get_asset(session, principal, asset_id)
    if asset is None:
        raise AssetNotFound(field="asset_id")
    return asset


async def delete_asset(session: AsyncSession, blobs: BlobStore, principal: Principal, asset_id: str) -> list[str]:
    """Delete the caller's asset and the thumbnails made from it; the files go once the transaction commits.

    Returns the ids deleted."""
    asset = await get_asset_or_raise(session, principal, asset_id)
    thumbs = list((await session.execute(
        select(Asset).where(Asset.derived_from == asset.id, Asset.kind == "thumb", Asset.owner_id == asset.owner_id)
    )).scalars())
    doomed = [*thumbs, asset]
    for row in doomed:
        await session.delete(row)
    await session.flush()
    delete_after_commit(session, blobs, [row.key for row in doomed])
    return [row.id for row in doomed]


async def list_assets(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None = None,
    job_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Asset], str | None]:
    """The caller's assets, newest first (ids are time-ordered), cursor-paged."""
    stmt = scoped(select(Asset), Asset.owner_id, principal, "assets")
    if kind:
        if kind not in ASSET_KINDS:
            raise InvalidInput(f"unknown asset kind {kind!r}", field="kind")
        stmt = stmt.where(Asset.kind == kind)
    if job_id:
        stmt = stmt.where(Asset.job_id == job_id)
    if cursor:
        stmt = stmt.where(Asset.id < decode_cursor(cursor))
    rows = list((await session.execute(stmt.order_by(Asset.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


def asset_dict(asset: Asset, blobs: BlobStore) -> dict[str, Any]:
    """The public shape of an asset, with a fresh (signed) URL."""
    return {
        "id": asset.id,
        "kind": asset.kind,
        "mime": asset.mime,
        "size": asset.size,
        "sha256": asset.sha256,
        "width": asset.width,
        "height": asset.height,
        "url": blobs.url(asset.key),
        "created_at": asset.created_at.isoformat().replace("+00:00", "Z") if asset.created_at else None,
        "job_id": asset.job_id,
        "derived_from": asset.derived_from,
    }
