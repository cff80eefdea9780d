"""Ratings of finished subtasks, and the subtask view of a task — owner-scoped like every job read.

A job the caller may not read answers JobNotFound (404), exactly like an unknown id. An administrator who can
read someone else's job still may not rate it (only its owner rates): NotJobOwner (403).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import utc_now
from genloom.core.ids import new_id
from genloom.core.principal import Principal, scoped
from genloom.jobs.errors import JobNotFound
from genloom.jobs.models import Job
from genloom.jobs.states import TERMINAL, JobStatus
from genloom.ratings.errors import NotJobOwner, NotRatable, RatingNotFound
from genloom.ratings.models import Rating

ratings_t = cast(Table, Rating.__table__)
MAX_SUBTASKS_SHOWN = 1000


async def _readable_job(session: AsyncSession, principal: Principal, job_id: str) -> Job:
    stmt = scoped(select(Job).where(Job.id == job_id), Job.owner_id, principal, "jobs")
    job: Job | None = (await session.execute(stmt)).scalar_one_or_none()
    if job is None:
        raise JobNotFound(field="job_id")
    return job


def rating_dict(rating: Any) -> dict[str, Any]:
    return {"job_id": rating.job_id, "score": rating.score, "comment": rating.comment,
            "created_at": rating.created_at, "updated_at": rating.updated_at}


async def rate_job(
    session: AsyncSession, principal: Principal, job_id: str, *, score: int, comment: str | None = None
) -> dict[str, Any]:
    """Set (or replace) the owner's 1-5 rating of a succeeded subtask."""
    job = await _readable_job(session, principal, job_id)
    if job.owner_id != principal.owner_id or not principal.can("jobs:rate"):
        raise NotJobOwner(field="job_id")
    if job.is_batch:
        raise NotRatable("a task is rated through its subtasks; rate each subtask", field="job_id")
    if job.status != JobStatus.succeeded.value:
        raise NotRatable(f"only a succeeded subtask can be rated; this one is {job.status}", field="job_id")
    if not 1 <= score <= 5:
        from genloom.core.errors import InvalidInput

        raise InvalidInput("score must be 1-5", field="score")
    now = utc_now()
    values = {"id": new_id(), "job_id": job.id, "owner_id": job.owner_id, "score": score, "comment": comment or None,
              "created_at": now, "updated_at": now}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ratings_t).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ratings_t.c.job_id],
        set_={"score": score, "comment": comment or None, "updated_at": now},
    ).returning(*ratings_t.c)
    row = (await session.execute(stmt)).one()
    return rating_dict(row)


async def get_rating(session: AsyncSession, principal: Principal, job_id: str) -> dict[str, Any]:
    """The rating of a job the caller may read; RatingNotFound when it has none."""
    await _readable_job(session, principal, job_id)
    row = (await session.execute(select(ratings_t).where(ratings_t.c.job_id == job_id))).first()
    if row is None:
        raise RatingNotFound(field="job_id")
    return rating_dict(row)


async def delete_rating(session: AsyncSession, principal: Principal, job_id: str) -> None:
    """Remove the owner's rating (nothing happens when there is none)."""
    job = await _readable_job(session, principal, job_id)
    if job.owner_id != principal.owner_id:
        raise NotJobOwner(field="job_id")
    await session.execute(delete(ratings_t).where(ratings_t.c.job_id == job_id))


async def task_progress(session: AsyncSession, principal: Principal, task_id: str) -> dict[str, Any]:
    """A task (batch) with each subtask's status, progress, result and rating, and the task's progress as
    the share of finished subtasks. A single job is shown as a task of one subtask."""
    task = await _readable_job(session, principal, task_id)
    if task.is_batch:
        children = list((await session.execute(
            select(Job).where(Job.parent_id == task.id).order_by(Job.id).limit(MAX_SUBTASKS_SHOWN)
        )).scalars())
    else:
        children = [task]
    ids = [c.id for c in children]
    ratings = {r.job_id: rating_dict(r) for r in (await session.execute(
        select(ratings_t).where(ratings_t.c.job_id.in_(ids)))).all()} if ids else {}
    counts: dict[str, int] = {}
    for child in children:
        counts[child.status] = counts.get(child.status, 0) + 1
    finished = sum(counts.get(s.value, 0) for s in TERMINAL)
    total = len(children)
    return {
        "id": task.id,
        "status": task.status,
        "progress": int(100 * finished / total) if total else 100,
        "total": total,
        "finished": finished,
        "counts": counts,
        "subtasks": [
            {"id": c.id, "status": c.status, "progress": c.progress, "input": c.input, "result": c.result,
             "error": c.error, "rating": ratings.get(c.id)}
            for c in children
        ],
    }
