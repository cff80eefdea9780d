"""What callers ask of jobs: cancel and requeue. Each status change is built by ``queue.status_change`` (the
transition table) and writes its event in the same transaction as the caller's session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import utc_now
from genloom.jobs import batch
from genloom.jobs.log import log_job_transition
from genloom.jobs.queue import status_change
from genloom.jobs.states import EventType, JobStatus
from genloom.jobs.tables import event_row, events_t, jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime


async def cancel(session: AsyncSession, runtime: Runtime, ids: list[str]) -> None:
    """Cancel the queued ones of ``ids`` at once (queued → canceled); flag the running ones, whose worker stops
    between steps and then marks them canceled. Batch parents are left to ``batch.refresh_parent``."""
    now = utc_now()
    stop, canceled_type = status_change(JobStatus.queued, JobStatus.canceled, jobs_t.c.id.in_(ids),
                                        jobs_t.c.is_batch.is_(False))
    returning = (jobs_t.c.id, jobs_t.c.kind, jobs_t.c.owner_id, jobs_t.c.progress)
    canceled = (
        await session.execute(
            stop.values(finished_at=now, updated_at=now, cancel_requested=True).returning(*returning)
        )
    ).all()
    flagged = (
        await session.execute(
            update(jobs_t).where(jobs_t.c.id.in_(ids), jobs_t.c.status == JobStatus.running.value)
            .values(cancel_requested=True, updated_at=now)
            .returning(*returning)
        )
    ).all()
    events = [event_row(r.id, r.owner_id, canceled_type,
                        {"status": JobStatus.canceled.value, "progress": r.progress}, now)
              for r in canceled]
    events += [event_row(r.id, r.owner_id, EventType.log,
                         {"status": JobStatus.running.value, "progress": r.progress, "message": "cancel requested"}, now)
               for r in flagged]
    for r in canceled:
        log_job_transition("canceled", job_id=r.id, kind=r.kind, status=JobStatus.canceled.value)
    for r in flagged:
        log_job_transition("cancel_requested", job_id=r.id, kind=r.kind, status=JobStatus.running.value)
    if events:
        await session.execute(insert(events_t), events)
        await runtime.signals.notify_in_txn(await session.connection(), events=True)
        runtime.signals.wake_after_commit(session)


async def requeue(session: AsyncSession, runtime: Runtime, job_id: str, *, is_batch: bool) -> None:
    """Failed or canceled → queued with a fresh set of attempts: the job, or a batch's failed/canceled children
    (the parent follows them)."""
    now = utc_now()
    target = (jobs_t.c.parent_id == job_id) if is_batch else (jobs_t.c.id == job_id)
    again, queued_type = status_change((JobStatus.failed, JobStatus.canceled), JobStatus.queued, target)
    rows = (
        await session.execute(
            again.values(attempts=0, error=None, result=None, run_at=now, finished_at=None, cancel_requested=False,
                         worker_id=None, lease_until=None, progress=0, phase=None, updated_at=now)
            .returning(jobs_t.c.id, jobs_t.c.kind, jobs_t.c.owner_id)
        )
    ).all()
    if rows:
        await session.execute(
            insert(events_t),
            [event_row(r.id, r.owner_id, queued_type, {"status": JobStatus.queued.value, "progress": 0, "attempts": 0},
                       now) for r in rows],
        )
    for r in rows:
        log_job_transition("requeued", job_id=r.id, kind=r.kind, status=JobStatus.queued.value)
    if is_batch:
        await session.execute(
            update(jobs_t).where(jobs_t.c.id == job_id).values(cancel_requested=False, error=None, result=None)
        )
        await batch.refresh_parent(await session.connection(), job_id, now)
    await runtime.signals.notify_in_txn(await session.connection(), jobs=True, events=True)
    runtime.signals.wake_after_commit(session)
