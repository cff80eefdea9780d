"""Uploads into an artwork's key layout: presign (reserve a key), commit (verify what arrived and record it as
an asset), and the direct multipart upload for clients that cannot PUT to a bucket.

Keys are ``clients/{clientId}/artworks/{artworkId}/{type}/v{n}/file.{ext}``; ``n`` counts up per artwork and
type, allocated by the ``artwork_uploads`` rows (unique per artwork, type and version). A presign without an
artwork reserves one (status ``reserved``: invisible until ``POST /artworks`` creates it).

Commit trusts nothing the client said: the key must be one this caller was given, the object must exist, its
stored size must be the declared one, and the type sniffed from its first bytes must agree with the declared
type — a mismatch deletes the object, so a spoofed file never stays in the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks.errors import (
    ArtworkNotFound,
    MimeMismatch,
    ObjectMissing,
    SizeMismatch,
    TooLarge,
    UnsupportedMime,
    UploadNotFound,
)
from genloom.artworks.models import Artwork, Upload
from genloom.artworks.policy import ALLOWED_MIMES, EXTENSIONS, UploadPolicy, UploadType, agrees, normalise_mime
from genloom.artworks.probe import duration_ms_async
from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.ids import new_id
from genloom.core.principal import Principal
from genloom.media import images
from genloom.media import service as media_service
from genloom.media.errors import InvalidMedia, MediaTooLarge
from genloom.media.models import Asset
from genloom.storage.base import BlobStore
from genloom.storage.errors import BlobTooLarge
from genloom.storage.keys import huaban_key, validate_key

VERSION_ATTEMPTS = 5  # concurrent presigns of one artwork and type race for a version; the loser takes the next


@dataclass(frozen=True, slots=True)
class Presigned:
    key: str
    url: str
    method: str
    headers: dict[str, str]
    expires_at: int
    artwork_id: str
    version: int


def client_id_of(principal: Principal) -> str:
    if principal.client_id is None:
        raise InvalidInput("a client id is required", code="client_id_required", field="X-Client-Id")
    return principal.client_id


def check_type_and_size(policy: UploadPolicy, upload_type: UploadType, mime: str, size: int | None) -> str:
    """The normalised mime when it is allowed for ``upload_type`` and ``size`` is within its cap."""
    mime = normalise_mime(mime)
    if mime not in ALLOWED_MIMES[upload_type]:
        raise UnsupportedMime(f"{mime or 'this type'} is not accepted for {upload_type}; allowed: "
                              f"{', '.join(ALLOWED_MIMES[upload_type])}", field="mime")
    cap = policy.max_bytes[upload_type]
    if size is not None and size > cap:
        raise TooLarge(f"{upload_type} files may be at most {cap} bytes", field="size")
    return mime


async def owned_artwork(session: AsyncSession, principal: Principal, artwork_id: str, *, field: str = "artworkId",
                        include_reserved: bool = True, lock: bool = False) -> Artwork:
    """The caller's artwork (another owner's and an unknown id look the same: 404); ``lock``: FOR UPDATE."""
    stmt = select(Artwork).where(Artwork.id == artwork_id, Artwork.owner_id == principal.owner_id)
    row: Artwork | None = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if row is None or (row.status == "reserved" and not include_reserved):
        raise ArtworkNotFound(field=field)
    return row


async def reserve_artwork(session: AsyncSession, principal: Principal, artwork_id: str | None) -> Artwork:
    if artwork_id:
        return await owned_artwork(session, principal, artwork_id)
    now = utc_now()
    artwork = Artwork(id=new_id(), owner_id=principal.owner_id, status="reserved", created_at=now, updated_at=now)
    session.add(artwork)
    await session.flush()
    return artwork


async def claim_key(session: AsyncSession, principal: Principal, artwork_id: str, file_type: str, mime: str,
                    size: int, *, state: str = "pending", expires_s: int = 0) -> Upload:
    """Insert the upload row of the next version of ``file_type`` for this artwork; returns it (key set)."""
    client_id = client_id_of(principal)
    for _ in range(VERSION_ATTEMPTS):
        latest = (await session.execute(
            select(func.max(Upload.version)).where(Upload.artwork_id == artwork_id, Upload.type == file_type)
        )).scalar_one_or_none()
        version = int(latest or 0) + 1
        now = utc_now()
        row = Upload(key=huaban_key(client_id, artwork_id, file_type, version, EXTENSIONS.get(mime, "bin")),
                     owner_id=principal.owner_id, artwork_id=artwork_id, type=file_type, version=version, mime=mime,
                     size=size, state=state, created_at=now, expires_at=now + timedelta(seconds=expires_s))
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            continue
        return row
    raise InvalidInput("too many uploads at once for this artwork; try again", code="busy", field="type")


async def presign(session: AsyncSession, blobs: BlobStore, policy: UploadPolicy, principal: Principal, *,
                  upload_type: UploadType, mime: str, size: int, artwork_id: str | None) -> Presigned:
    mime = check_type_and_size(policy, upload_type, mime, size)
    if size < 1:
        raise InvalidInput("size must be at least 1 byte", field="size")
    artwork = await reserve_artwork(session, principal, artwork_id)
    row = await claim_key(session, principal, artwork.id, upload_type, mime, size,
                          expires_s=policy.presign_expires_s)
    signed = blobs.presign_put(row.key, mime=mime, expires_s=policy.presign_expires_s, content_length=size)
    headers = {str(k): str(v) for k, v in dict(signed.get("headers") or {}).items()}  # type: ignore[call-overload]
    expires_at = signed.get("expires_at")
    return Presigned(key=row.key, url=str(signed["url"]), method=str(signed.get("method", "PUT")), headers=headers,
                     expires_at=int(expires_at) if isinstance(expires_at, int) else 0, artwork_id=artwork.id,
                     version=row.version)


async def _owned_upload(session: AsyncSession, principal: Principal, key: str) -> Upload:
    # locked: concurrent commits of one key take turns, and the later ones find it committed
    row: Upload | None = (await session.execute(
        select(Upload).where(Upload.key == key, Upload.owner_id == principal.owner_id).with_for_update()
    )).scalar_one_or_none()
    if row is None or row.type not in ("original", "audio", "video"):
        raise UploadNotFound("no upload was presigned for this key", field="key")
    return row


async def commit(session: AsyncSession, blobs: BlobStore, principal: Principal, *, key: str, mime: str, size: int,
                 etag: str | None = None) -> tuple[Asset, bool]:
    """Record the uploaded object as an asset; returns (asset, created). Committing twice returns the same."""
    key = validate_key(key, field="key")
    row = await _owned_upload(session, principal, key)
    if row.state == "committed" and row.asset_id:
        existing = await session.get(Asset, row.asset_id)
        if existing is not None:
            return existing, False
    if normalise_mime(mime) != row.mime:
        raise MimeMismatch(f"the key was presigned for {row.mime}, not {normalise_mime(mime)}", field="mime")
    if size != row.size:
        raise SizeMismatch(f"the key was presigned for {row.size} bytes, not {size}", field="size")
    stat = await blobs.stat(key)
    if stat is None:
        raise ObjectMissing("nothing was uploaded under this key", field="key")
    if stat.size != row.size:
        await blobs.delete(key)
        raise SizeMismatch(f"the stored file has {stat.size} bytes, {row.size} were declared", field="size")
    if etag and etag.strip('"') != stat.etag.strip('"'):
        raise InvalidInput("the etag does not match the stored file", code="etag_mismatch", field="etag")
    try:
        async with session.begin_nested():
            return await _record(session, blobs, principal, row, stat.etag), True
    except IntegrityError:
        # a concurrent commit of the same key won (assets.key is unique): answer with its asset. A thumbnail
        # this attempt wrote names no row now; the janitor sweeps such objects.
        existing = (await session.execute(
            select(Asset).where(Asset.key == key, Asset.owner_id == principal.owner_id))).scalar_one_or_none()
        if existing is None:
            raise
        return existing, False


async def _record(session: AsyncSession, blobs: BlobStore, principal: Principal, row: Upload, etag: str) -> Asset:
    """Verify the bytes under ``row.key`` and insert their asset (and a thumbnail for pictures)."""
    data = await blobs.get(row.key)
    if not agrees(row.mime, images.sniff(data)):
        await blobs.delete(row.key)
        raise MimeMismatch(f"the file's bytes are not {row.mime}", field="mime")
    width = height = duration = None
    thumb_pending: media_service.PendingAsset | None = None
    asset_id = new_id()
    try:
        if row.type == "original":
            info = await images.probe_async(data)
            width, height = info.width, info.height
            thumb = await images.thumbnail_async(data)
            thumb_row = await claim_key(session, principal, row.artwork_id, "thumb", thumb.mime, len(thumb.data),
                                        state="committed")
            thumb_info = images.MediaInfo(mime=thumb.mime, size=len(thumb.data), sha256=images.sha256_hex(thumb.data),
                                          width=thumb.width, height=thumb.height)
            thumb_pending = await media_service.write_blob(blobs, owner_id=principal.owner_id, data=thumb.data,
                                                           kind="thumb", key=thumb_row.key, info=thumb_info,
                                                           derived_from=asset_id)
            thumb_row.asset_id = thumb_pending.id
            sha = info.sha256
        else:
            duration = await duration_ms_async(data)
            sha = images.sha256_hex(data)
    except InvalidMedia:
        # a picture whose header says PNG but whose body is not one is a spoofed file like any other
        await blobs.delete(row.key)
        raise MimeMismatch(f"the file's bytes are not a readable {row.mime} picture", field="mime") from None
    except MediaTooLarge:
        await blobs.delete(row.key)
        raise
    asset = Asset(id=asset_id, owner_id=principal.owner_id, kind=row.type, key=row.key, mime=row.mime,
                  size=len(data), sha256=sha, etag=etag, width=width, height=height, duration_ms=duration,
                  state="committed")
    session.add(asset)
    await session.flush()
    if thumb_pending is not None:
        await media_service.add_assets(session, [thumb_pending])
        media_service.track_until_commit(session, blobs, [thumb_pending])
    row.state, row.asset_id = "committed", asset.id
    await session.flush()
    return asset


async def upload(session: AsyncSession, blobs: BlobStore, policy: UploadPolicy, principal: Principal, *,
                 upload_type: UploadType, mime: str, chunks: AsyncIterator[bytes],
                 artwork_id: str | None) -> Asset:
    """Store a streamed file (the size cap enforced while reading) and commit it in one go."""
    mime = check_type_and_size(policy, upload_type, mime, None)
    artwork = await reserve_artwork(session, principal, artwork_id)
    row = await claim_key(session, principal, artwork.id, upload_type, mime, 0)
    cap = policy.max_bytes[upload_type]
    try:
        stat = await blobs.put_stream(row.key, chunks, mime=mime, max_bytes=cap)
    except BlobTooLarge:
        raise TooLarge(f"{upload_type} files may be at most {cap} bytes", field="file") from None
    if stat.size == 0:
        await blobs.delete(row.key)
        raise InvalidMedia("the file is empty", field="file")
    row.size = stat.size
    written = media_service.PendingAsset(id=new_id(), owner_id=principal.owner_id, kind=upload_type, key=row.key,
                                         info=images.MediaInfo(mime=mime, size=stat.size, sha256=""), etag=stat.etag)
    try:
        asset = await _record(session, blobs, principal, row, stat.etag)
    except BaseException:
        await blobs.delete(row.key)
        raise
    media_service.track_until_commit(session, blobs, [written])  # the request's transaction may still fail
    return asset
