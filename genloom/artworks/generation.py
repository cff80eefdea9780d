"""Starting and following generation jobs (the flow itself is :mod:`genloom.artworks.generation_flow`).

One artwork has at most one generation queued or running at a time (a second request is a 409, unless it
repeats an Idempotency-Key, which answers with the first job). Retry is for failed jobs only and resumes where
the job stopped. Capture fetches the provider's finished video into the gallery: done already → the same
answer; failed with the provider's task on record → the job is queued again and resumes by polling that task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.artworks.errors import GenerationConflict, GenerationNotFound
from genloom.artworks.generation_flow import KIND
from genloom.artworks.models import Artwork, Generation
from genloom.artworks.service import require_artwork
from genloom.core.db import utc_now
from genloom.core.errors import Conflict, InvalidInput
from genloom.core.principal import Principal
from genloom.jobs import enqueueing
from genloom.jobs import service as jobs_service
from genloom.jobs.runtime import Runtime
from genloom.jobs.states import ACTIVE, JobStatus
from genloom.jobs.tables import jobs_t

MAX_TEXT_CHARS = 5000


@dataclass(frozen=True, slots=True)
class GenerationView:
    job_id: str
    artwork_id: str
    status: str
    phase: str | None
    progress: int
    error: dict[str, Any] | None
    transcript: str | None
    story: str | None
    video_asset_id: str | None
    attempts: int


def _view(job: dict[str, Any], gen: Generation) -> GenerationView:
    return GenerationView(job_id=gen.job_id, artwork_id=gen.artwork_id, status=str(job["status"]),
                          phase=job.get("phase"), progress=int(job.get("progress") or 0), error=job.get("error"),
                          transcript=gen.transcript, story=gen.story, video_asset_id=gen.video_asset_id,
                          attempts=int(job.get("attempts") or 0))


async def _job(session: AsyncSession, job_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(jobs_t).where(jobs_t.c.id == job_id))).first()
    return dict(row._mapping) if row is not None else None


async def get_generation(session: AsyncSession, principal: Principal, job_id: str) -> GenerationView:
    gen: Generation | None = await session.get(Generation, job_id)
    job = await _job(session, job_id) if gen is not None else None
    if gen is None or job is None or gen.owner_id != principal.owner_id:
        raise GenerationNotFound(field="jobId")
    return _view(job, gen)


async def start_generation(session: AsyncSession, runtime: Runtime, principal: Principal, *, artwork_id: str,
                           text: str | None, idempotency_key: str | None) -> GenerationView:
    if idempotency_key:
        existing = await enqueueing.find_idempotent(session, runtime, principal.owner_id, idempotency_key)
        if existing is not None:
            return await get_generation(session, principal, existing)
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text may be at most {MAX_TEXT_CHARS} characters", field="text")
    # locked, so two requests for one artwork cannot both find no active job and both start one
    artwork: Artwork = await require_artwork(session, principal, artwork_id, field="artworkId", lock=True)
    active = (await session.execute(
        select(Generation.job_id).join(jobs_t, jobs_t.c.id == Generation.job_id)
        .where(Generation.artwork_id == artwork.id, jobs_t.c.status.in_([s.value for s in ACTIVE]))
    )).scalars().first()
    if active is not None:
        raise GenerationConflict(f"generation job {active} is still running for this artwork", field="artworkId")
    job_id = await enqueueing.enqueue(session, runtime, kind=KIND, input={"artwork_id": artwork.id},
                                 owner_id=principal.owner_id, idempotency_key=idempotency_key, surface="huaban")
    if await session.get(Generation, job_id) is None:  # a concurrent repeat of the key answered with its job
        now = utc_now()
        session.add(Generation(job_id=job_id, owner_id=principal.owner_id, artwork_id=artwork.id,
                               text=text.strip() if text and text.strip() else None, created_at=now, updated_at=now))
        await session.flush()
    return await get_generation(session, principal, job_id)


async def retry_generation(session: AsyncSession, runtime: Runtime, principal: Principal,
                           job_id: str) -> GenerationView:
    view = await get_generation(session, principal, job_id)
    if view.status != JobStatus.failed.value:
        raise Conflict(f"only failed jobs can be retried; this one is {view.status}", code="job_not_failed",
                       field="jobId")
    await jobs_service.retry_job(session, runtime, principal, job_id)
    return await get_generation(session, principal, job_id)


async def capture(session: AsyncSession, runtime: Runtime, principal: Principal, job_id: str) -> GenerationView:
    view = await get_generation(session, principal, job_id)
    if view.video_asset_id is not None or view.status in (JobStatus.queued.value, JobStatus.running.value):
        return view
    gen = await session.get(Generation, job_id)
    if view.status == JobStatus.failed.value and gen is not None and gen.provider_task_id:
        await jobs_service.retry_job(session, runtime, principal, job_id)
        return await get_generation(session, principal, job_id)
    raise Conflict("this job has no finished provider video to capture; retry it instead",
                   code="nothing_to_capture", field="jobId")
