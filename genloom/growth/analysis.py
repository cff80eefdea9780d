"""AI analyses of artworks: the ``artwork.analyze`` job (queued when an artwork's video is stored, or on
request) and reading the result.

Phases: ``preparing`` (the drawing is read), ``analyzing`` (the vision provider), ``storing``. One analysis
is kept per artwork; re-running replaces it. While a run is pending the previous result stays readable with
``status: pending``. A run that fails for good records ``failed`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks.generation_flow import ANALYSIS_KIND
from genloom.artworks.models import Artwork
from genloom.artworks.service import require_artwork
from genloom.core.db import utc_now
from genloom.core.errors import GenloomError, InvalidInput
from genloom.core.principal import Principal
from genloom.growth.abilities import INSTRUCTION, SCHEMA_HINT, read_local, read_remote
from genloom.growth.models import Analysis
from genloom.jobs import enqueueing
from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.jobs.runtime import Runtime
from genloom.pipelines.inputs import load_owned_asset, require_provider
from genloom.providers.base import VisionRequest

MAX_IMAGE_BYTES = 20 * 1024 * 1024


class AnalyzeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artwork_id: str = Field(min_length=1, max_length=36)


@dataclass(frozen=True, slots=True)
class AnalysisView:
    artwork_id: str
    status: str
    summary: str | None
    tags: list[str]
    boxes: list[dict[str, Any]]
    scores: dict[str, Any]
    abilities: dict[str, int]
    provider: str | None
    created_at: str | None
    error: dict[str, Any] | None


def _iso(row: Analysis) -> str | None:
    return row.updated_at.isoformat().replace("+00:00", "Z") if row.updated_at else None


def view_of(row: Analysis | None, artwork_id: str) -> AnalysisView:
    if row is None:
        return AnalysisView(artwork_id=artwork_id, status="pending", summary=None, tags=[], boxes=[], scores={},
                            abilities={}, provider=None, created_at=None, error=None)
    return AnalysisView(artwork_id=row.artwork_id, status=row.status, summary=row.summary, tags=list(row.tags or []),
                        boxes=list(row.boxes or []), scores=dict(row.scores or {}),
                        abilities=dict(row.abilities or {}), provider=row.provider, created_at=_iso(row),
                        error=row.error)


async def get_analysis(session: AsyncSession, principal: Principal, artwork_id: str) -> AnalysisView:
    artwork = await require_artwork(session, principal, artwork_id, field="artworkId")
    return view_of(await session.get(Analysis, artwork.id), artwork.id)


async def _upsert(session: AsyncSession, artwork: Artwork, **values: Any) -> Analysis:
    row = await session.get(Analysis, artwork.id)
    now = utc_now()
    if row is None:
        row = Analysis(artwork_id=artwork.id, owner_id=artwork.owner_id, tags=[], boxes=[], scores={}, abilities={},
                       created_at=now)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    await session.flush()
    return row


async def request_analysis(session: AsyncSession, runtime: Runtime, principal: Principal,
                           artwork_id: str) -> AnalysisView:
    """Queue a (re-)run for the caller's artwork."""
    artwork = await require_artwork(session, principal, artwork_id, field="artworkId")
    if not artwork.cover_asset_id:
        raise InvalidInput("the artwork has no drawing to analyse", code="cover_required", field="artworkId")
    job_id = await enqueueing.enqueue(session, runtime, kind=ANALYSIS_KIND, input={"artwork_id": artwork.id},
                                 owner_id=principal.owner_id, surface="huaban")
    return view_of(await _upsert(session, artwork, status="pending", job_id=job_id, error=None), artwork.id)


async def _record(runtime: Runtime, artwork_id: str, owner_id: str, **values: Any) -> None:
    async with runtime.db.session() as session:
        artwork = await session.get(Artwork, artwork_id)
        if artwork is not None and artwork.owner_id == owner_id:
            await _upsert(session, artwork, **values)


async def run(ctx: JobContext) -> dict[str, Any]:
    params = AnalyzeInput.model_validate(ctx.input)
    runtime = ctx.runtime
    try:
        return await _analyze(ctx, params.artwork_id)
    except GenloomError as exc:
        if not exc.retryable or ctx.attempt >= ctx.max_attempts:
            await _record(runtime, params.artwork_id, ctx.owner_id, status="failed", job_id=ctx.job_id,
                          error={"code": exc.code, "message": exc.message[:500]})
        raise


async def _analyze(ctx: JobContext, artwork_id: str) -> dict[str, Any]:
    runtime = ctx.runtime
    provider = require_provider(runtime.providers.vision, code="vision_unavailable", what="vision",
                                setting="GENLOOM_VISION_PROVIDER")
    await ctx.set_phase("preparing", 0)
    async with runtime.db.read_session() as session:
        artwork = await session.get(Artwork, artwork_id)
        if artwork is None or artwork.owner_id != ctx.owner_id or not artwork.cover_asset_id:
            raise InvalidInput("the artwork or its drawing no longer exists", code="artwork_not_found",
                               field="artworkId")
        cover_id, narration = artwork.cover_asset_id, artwork.transcript
    picture = await load_owned_asset(ctx, cover_id, field="coverAssetId", mime_prefixes=("image/",),
                                     what="a picture", max_bytes=MAX_IMAGE_BYTES)
    await ctx.set_phase("analyzing", 20)
    result = await provider.analyze(VisionRequest(image=picture.data, image_mime=picture.mime,
                                                  instruction=INSTRUCTION, schema_hint=SCHEMA_HINT))
    # the offline provider answers with its measures of the drawing; remote models with the shape asked for
    measured = isinstance(result.data.get("measures"), dict)
    reading = read_local(result.data, narration) if measured else read_remote(result.data, narration)
    await ctx.set_phase("storing", 90)
    await _record(runtime, artwork_id, ctx.owner_id, status="completed", job_id=ctx.job_id, summary=reading.summary,
                  tags=reading.tags, boxes=reading.boxes, scores=reading.scores, abilities=reading.abilities,
                  provider=result.provider, model=result.model, error=None)
    return {"artwork_id": artwork_id, "abilities": reading.abilities, "provider": result.provider,
            "model": result.model}


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind(ANALYSIS_KIND, run, AnalyzeInput))
