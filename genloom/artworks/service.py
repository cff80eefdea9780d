"""Artworks: create from a committed drawing (and recording), read, edit, delete with all their files, and the
gallery. Every query is scoped to the caller; another owner's artwork answers like an unknown one (404).

Deleting an artwork removes every object under its key prefix once the transaction commits (also files that
were uploaded but never committed), the assets that named them, and — through the foreign keys — its uploads,
generations and analysis. A generation still running is asked to cancel first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks.errors import ArtworkNotFound
from genloom.artworks.models import Artwork, Generation, Upload
from genloom.artworks.uploads import client_id_of, owned_artwork
from genloom.core.db import utc_now
from genloom.core.ids import new_id
from genloom.core.paging import decode_cursor, encode_cursor
from genloom.core.principal import Principal
from genloom.jobs import service as jobs_service
from genloom.jobs.runtime import Runtime
from genloom.jobs.states import ACTIVE
from genloom.jobs.tables import jobs_t
from genloom.media import service as media_service
from genloom.media.errors import AssetNotFound, InvalidMedia
from genloom.media.models import Asset
from genloom.storage.base import BlobStore

VISIBLE = ("draft", "ready")
MAX_GALLERY = 50


@dataclass(frozen=True, slots=True)
class LatestJob:
    job_id: str
    status: str
    phase: str | None
    progress: int
    error: dict[str, object] | None


def artwork_prefix(principal: Principal, artwork_id: str) -> str:
    return f"clients/{client_id_of(principal)}/artworks/{artwork_id}/"


async def _owned_asset(session: AsyncSession, principal: Principal, asset_id: str, *, field: str, kind: str) -> Asset:
    asset: Asset | None = (await session.execute(
        select(Asset).where(Asset.id == asset_id, Asset.owner_id == principal.owner_id, Asset.state == "committed")
    )).scalar_one_or_none()
    if asset is None:
        raise AssetNotFound(f"asset {asset_id} not found", field=field)
    if asset.kind != kind:
        raise InvalidMedia(f"asset {asset_id} is a {asset.kind} file, not {kind}", field=field)
    return asset


async def create_artwork(session: AsyncSession, principal: Principal, *, title: str, description: str | None,
                         cover_asset_id: str, audio_asset_id: str | None, transcript: str | None) -> Artwork:
    """Create the artwork whose id the cover's upload reserved (or a new id when that one is taken)."""
    cover = await _owned_asset(session, principal, cover_asset_id, field="coverAssetId", kind="original")
    audio = (await _owned_asset(session, principal, audio_asset_id, field="audioAssetId", kind="audio")
             if audio_asset_id else None)
    thumb = (await session.execute(
        select(Asset.id).where(Asset.derived_from == cover.id, Asset.kind == "thumb")
    )).scalar_one_or_none()
    reserved_id = (await session.execute(
        select(Upload.artwork_id).where(Upload.key == cover.key, Upload.owner_id == principal.owner_id)
    )).scalar_one_or_none()
    artwork: Artwork | None = None
    if reserved_id is not None:
        found = await session.get(Artwork, reserved_id)
        if found is not None and found.owner_id == principal.owner_id and found.status == "reserved":
            artwork = found
    now = utc_now()
    if artwork is None:
        artwork = Artwork(id=new_id(), owner_id=principal.owner_id, created_at=now)
        session.add(artwork)
    artwork.status, artwork.title, artwork.description = "draft", title, description
    artwork.cover_asset_id, artwork.thumb_asset_id = cover.id, thumb
    artwork.audio_asset_id = audio.id if audio else None
    artwork.transcript = transcript
    artwork.transcript_source = "client" if transcript else None
    artwork.created_at = now  # the artwork exists from now on (a reservation's own time is not its age)
    artwork.updated_at = now
    await session.flush()
    return artwork


async def get_artwork(session: AsyncSession, principal: Principal, artwork_id: str) -> Artwork:
    return await owned_artwork(session, principal, artwork_id, field="id", include_reserved=False)


async def update_artwork(session: AsyncSession, principal: Principal, artwork_id: str, *,
                         changes: dict[str, str | None]) -> Artwork:
    """Apply the fields that were sent (title, description, transcript). A transcript edited here is the
    parent's correction: the next generation uses it instead of speech recognition."""
    artwork = await get_artwork(session, principal, artwork_id)
    if "title" in changes and changes["title"] is not None:
        artwork.title = changes["title"]
    if "description" in changes:
        artwork.description = changes["description"]
    if "transcript" in changes:
        artwork.transcript = changes["transcript"]
        artwork.transcript_source = "parent" if changes["transcript"] else None
    artwork.updated_at = utc_now()
    await session.flush()
    return artwork


async def delete_artwork(session: AsyncSession, runtime: Runtime, principal: Principal, artwork_id: str) -> None:
    artwork = await get_artwork(session, principal, artwork_id)
    active = (await session.execute(
        select(Generation.job_id).join(jobs_t, jobs_t.c.id == Generation.job_id)
        .where(Generation.artwork_id == artwork.id, jobs_t.c.status.in_([s.value for s in ACTIVE]))
    )).scalars().all()
    for job_id in active:
        await jobs_service.cancel_job(session, runtime, principal, job_id)
    prefix = artwork_prefix(principal, artwork.id)
    keys = {stat.key for stat in await runtime.blobs.list(prefix)}
    owned = [key for key in (await session.execute(
        select(Upload.key).where(Upload.artwork_id == artwork.id)
    )).scalars()]
    keys.update(owned)
    await session.delete(artwork)
    await session.flush()
    # assets last: artworks point at them; thumbnails (derived_from) before their originals
    assets = list((await session.execute(
        select(Asset).where(Asset.owner_id == principal.owner_id, Asset.key.startswith(prefix, autoescape=True))
    )).scalars())
    for asset in sorted(assets, key=lambda a: a.derived_from is None):
        await session.delete(asset)
    await session.flush()
    media_service.delete_after_commit(session, runtime.blobs, sorted(keys))


async def gallery(session: AsyncSession, principal: Principal, *, limit: int = 20,
                  cursor: str | None = None) -> tuple[list[Artwork], str | None]:
    """The caller's artworks, newest first (ids are time-ordered), cursor-paged."""
    stmt = select(Artwork).where(Artwork.owner_id == principal.owner_id, Artwork.status.in_(VISIBLE))
    if cursor:
        stmt = stmt.where(Artwork.id < decode_cursor(cursor))
    limit = max(1, min(MAX_GALLERY, limit))
    rows = list((await session.execute(stmt.order_by(Artwork.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


async def assets_of(session: AsyncSession, artworks: Iterable[Artwork]) -> dict[str, Asset]:
    """The assets the artworks point at, by id (one query)."""
    ids = {a for w in artworks for a in (w.cover_asset_id, w.thumb_asset_id, w.audio_asset_id, w.video_asset_id,
                                         w.poster_asset_id) if a}
    if not ids:
        return {}
    return {a.id: a for a in (await session.execute(select(Asset).where(Asset.id.in_(ids)))).scalars()}


def url_of(blobs: BlobStore, assets: dict[str, Asset], asset_id: str | None) -> str | None:
    asset = assets.get(asset_id) if asset_id else None
    return blobs.url(asset.key) if asset is not None else None


async def latest_jobs(session: AsyncSession, artwork_ids: Sequence[str]) -> dict[str, LatestJob]:
    """The newest generation job of each artwork."""
    if not artwork_ids:
        return {}
    rows = (await session.execute(
        select(Generation.artwork_id, jobs_t.c.id, jobs_t.c.status, jobs_t.c.phase, jobs_t.c.progress,
               jobs_t.c.error)
        .join(jobs_t, jobs_t.c.id == Generation.job_id)
        .where(Generation.artwork_id.in_(list(artwork_ids)))
        .order_by(Generation.artwork_id, jobs_t.c.id.desc())
    )).all()
    out: dict[str, LatestJob] = {}
    for row in rows:
        out.setdefault(row.artwork_id, LatestJob(job_id=row.id, status=row.status, phase=row.phase,
                                                 progress=int(row.progress or 0), error=row.error))
    return out


async def require_artwork(session: AsyncSession, principal: Principal, artwork_id: str, *, field: str,
                          lock: bool = False) -> Artwork:
    try:
        return await owned_artwork(session, principal, artwork_id, field=field, include_reserved=False, lock=lock)
    except ArtworkNotFound:
        raise ArtworkNotFound(field=field) from None
