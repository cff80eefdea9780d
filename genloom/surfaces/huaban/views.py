"""Turning feature objects into HuaBan's response shapes (camelCase, signed URLs, HuaBan's status words)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks import service as artworks
from genloom.artworks.generation import GenerationView
from genloom.artworks.models import Artwork, Upload
from genloom.growth.analysis import AnalysisView
from genloom.growth.models import Analysis
from genloom.media.models import Asset
from genloom.storage.base import BlobStore

#: the queue's statuses in HuaBan's words
STATUS = {"queued": "queued", "running": "processing", "succeeded": "completed", "failed": "failed",
          "canceled": "failed"}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def unix_iso(seconds: int) -> str:
    return iso(datetime.fromtimestamp(seconds, UTC)) or ""


def phase_of(status: str, phase: str | None) -> str:
    """HuaBan's phase: queued, the running phase, completed or failed."""
    if status == "succeeded":
        return "completed"
    if status in ("failed", "canceled"):
        return "failed"
    if status == "queued":
        return "queued"
    return phase or "queued"


def job_error(status: str, error: dict[str, Any] | None) -> dict[str, str] | None:
    if status == "canceled":
        return {"code": "canceled", "message": "the job was canceled"}
    if status != "failed" or not error:
        return None
    return {"code": str(error.get("code", "failed")), "message": str(error.get("message", ""))}


def media_asset(asset: Asset, blobs: BlobStore, artwork_id: str | None) -> dict[str, Any]:
    return {"id": asset.id, "key": asset.key, "type": asset.kind, "mime": asset.mime, "size": asset.size,
            "width": asset.width, "height": asset.height,
            "duration": round(asset.duration_ms / 1000, 3) if asset.duration_ms is not None else None,
            "sha256": asset.sha256, "createdAt": iso(asset.created_at), "artworkId": artwork_id,
            "url": blobs.url(asset.key)}


async def artwork_of_key(session: AsyncSession, key: str) -> str | None:
    found: str | None = (await session.execute(select(Upload.artwork_id).where(Upload.key == key))).scalar_one_or_none()
    return found


def analysis_short(row: Analysis | None) -> dict[str, Any]:
    if row is None:
        return {"status": "pending", "summary": None, "abilities": {}, "tags": []}
    return {"status": row.status, "summary": row.summary, "abilities": dict(row.abilities or {}),
            "tags": list(row.tags or [])}


async def artworks_out(session: AsyncSession, blobs: BlobStore, rows: list[Artwork]) -> list[dict[str, Any]]:
    assets = await artworks.assets_of(session, rows)
    latest = await artworks.latest_jobs(session, [r.id for r in rows])
    ids = [r.id for r in rows]
    analyses = {a.artwork_id: a for a in (await session.execute(
        select(Analysis).where(Analysis.artwork_id.in_(ids)))).scalars()} if ids else {}
    out = []
    for row in rows:
        job = latest.get(row.id)
        out.append({
            "id": row.id, "title": row.title, "description": row.description, "status": row.status,
            "coverUrl": artworks.url_of(blobs, assets, row.cover_asset_id),
            "thumbUrl": artworks.url_of(blobs, assets, row.thumb_asset_id),
            "audioUrl": artworks.url_of(blobs, assets, row.audio_asset_id),
            "videoUrl": artworks.url_of(blobs, assets, row.video_asset_id),
            "posterUrl": artworks.url_of(blobs, assets, row.poster_asset_id),
            "transcript": row.transcript, "transcriptSource": row.transcript_source, "story": row.story,
            "analysis": analysis_short(analyses.get(row.id)),
            "latestJob": None if job is None else {"jobId": job.job_id, "status": STATUS.get(job.status, job.status),
                                                    "phase": phase_of(job.status, job.phase),
                                                    "progress": job.progress},
            "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at),
        })
    return out


def gallery_item(full: dict[str, Any]) -> dict[str, Any]:
    return {k: full[k] for k in ("id", "title", "coverUrl", "thumbUrl", "videoUrl", "status", "createdAt")}


async def generation_out(session: AsyncSession, blobs: BlobStore, view: GenerationView) -> dict[str, Any]:
    video_url = poster_url = None
    if view.video_asset_id:
        video = await session.get(Asset, view.video_asset_id)
        poster = (await session.execute(select(Asset).where(Asset.derived_from == view.video_asset_id,
                                                            Asset.kind == "thumb"))).scalars().first()
        video_url = blobs.url(video.key) if video is not None else None
        poster_url = blobs.url(poster.key) if poster is not None else None
    return {"jobId": view.job_id, "artworkId": view.artwork_id, "status": STATUS.get(view.status, view.status),
            "phase": phase_of(view.status, view.phase), "progress": view.progress,
            "error": job_error(view.status, view.error), "videoUrl": video_url, "posterUrl": poster_url,
            "transcript": view.transcript, "story": view.story}


def analysis_out(view: AnalysisView) -> dict[str, Any]:
    return {"artworkId": view.artwork_id, "status": view.status, "summary": view.summary, "tags": view.tags,
            "boxes": view.boxes, "scores": view.scores, "abilities": view.abilities, "provider": view.provider,
            "createdAt": view.created_at,
            "error": ({"code": str(view.error.get("code")), "message": str(view.error.get("message"))}
                      if view.status == "failed" and view.error else None)}
