"""Leases of running jobs: the worker's heartbeat renews them, the janitor rescues the lapsed ones (back to the
queue while attempts remain), and the worker polls for cancel requests between heartbeats."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from genloom.core.db import utc_now
from genloom.jobs import batch
from genloom.jobs.queue import status_change
from genloom.jobs.states import JobStatus
from genloom.jobs.tables import event_row, events_t, jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime


async def rescue_expired(runtime: Runtime) -> tuple[int, int]:
    """Running jobs whose lease lapsed: back to queued while attempts remain, else failed (``lease_expired``).
    Returns (requeued, failed)."""
    now = utc_now()
    lapsed = jobs_t.c.lease_until < now
    returning = (jobs_t.c.id, jobs_t.c.owner_id, jobs_t.c.parent_id, jobs_t.c.attempts, jobs_t.c.progress)
    error = {"code": "lease_expired", "message": "the worker running this job stopped responding", "retryable": True}
    final = {**error, "retryable": False}
    back, retrying = status_change(JobStatus.running, JobStatus.queued, lapsed,
                                   jobs_t.c.attempts < jobs_t.c.max_attempts)
    give_up, failed_type = status_change(JobStatus.running, JobStatus.failed, lapsed,
                                         jobs_t.c.attempts >= jobs_t.c.max_attempts)
    async with runtime.db.write() as conn:
        requeued = (
            await conn.execute(
                back.values(worker_id=None, lease_until=None, run_at=now, updated_at=now, error=error)
                .returning(*returning)
            )
        ).all()
        failed = (
            await conn.execute(
                give_up.values(lease_until=None, finished_at=now, updated_at=now, error=final).returning(*returning)
            )
        ).all()
        events: list[dict[str, Any]] = [
            event_row(r.id, r.owner_id, retrying,
                      {"status": JobStatus.queued.value, "progress": r.progress, "attempts": r.attempts,
                       "reason": "lease_expired"}, now)
            for r in requeued
        ]
        events += [
            event_row(r.id, r.owner_id, failed_type,
                      {"status": JobStatus.failed.value, "progress": r.progress, "attempts": r.attempts,
                       "error": final}, now)
            for r in failed
        ]
        if events:
            await conn.execute(insert(events_t), events)
            for parent_id in {r.parent_id for r in failed if r.parent_id}:
                await batch.refresh_parent(conn, parent_id, now)
            await runtime.signals.notify_in_txn(conn, jobs=bool(requeued), events=True)
    if requeued or failed:
        runtime.signals.wake_local(jobs=bool(requeued), events=True)
    return len(requeued), len(failed)


async def heartbeat(runtime: Runtime, worker_id: str, job_ids: list[str]) -> set[str]:
    """Renew the leases this worker holds; returns the ids it still holds."""
    if not job_ids:
        return set()
    now = utc_now()
    async with runtime.db.write() as conn:
        rows = (
            await conn.execute(
                update(jobs_t)
                .where(jobs_t.c.id.in_(job_ids), jobs_t.c.status == JobStatus.running.value,
                       jobs_t.c.worker_id == worker_id)
                .values(lease_until=now + timedelta(seconds=runtime.settings.lease_seconds))
                .returning(jobs_t.c.id)
            )
        ).all()
    return {r.id for r in rows}


async def cancel_requested(runtime: Runtime, worker_id: str, job_ids: list[str]) -> set[str]:
    """Which of this worker's running jobs have a pending cancel request (a cheap read)."""
    if not job_ids:
        return set()
    async with runtime.db.reader.connect() as conn:
        rows = (
            await conn.execute(
                select(jobs_t.c.id).where(jobs_t.c.id.in_(job_ids), jobs_t.c.worker_id == worker_id,
                                          jobs_t.c.cancel_requested.is_(True))
            )
        ).all()
    return {r.id for r in rows}
