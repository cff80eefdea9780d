"""Batch parents: a parent job is never claimed; its status and progress follow its children."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from genloom.jobs.states import TERMINAL, EventType, JobStatus
from genloom.jobs.tables import events_t, jobs_t


async def child_counts(conn: Any, parent_ids: list[str]) -> dict[str, dict[str, int]]:
    """{parent_id: {status: count}} for the given parents."""
    if not parent_ids:
        return {}
    rows = (
        await conn.execute(
            select(jobs_t.c.parent_id, jobs_t.c.status, func.count())
            .where(jobs_t.c.parent_id.in_(parent_ids))
            .group_by(jobs_t.c.parent_id, jobs_t.c.status)
        )
    ).all()
    out: dict[str, dict[str, int]] = {pid: {} for pid in parent_ids}
    for parent_id, status, count in rows:
        out[parent_id][status] = int(count)
    return out


def derive(counts: dict[str, int]) -> tuple[JobStatus, int]:
    """Parent status and progress (the share of finished children) from its children's statuses."""
    total = sum(counts.values())
    done = sum(counts.get(s.value, 0) for s in TERMINAL)
    progress = int(100 * done / total) if total else 100
    if total and done == total:
        if counts.get(JobStatus.failed.value):
            return JobStatus.failed, 100
        if counts.get(JobStatus.succeeded.value):
            return JobStatus.succeeded, 100
        return JobStatus.canceled, 100
    if done or counts.get(JobStatus.running.value):
        return JobStatus.running, progress
    return JobStatus.queued, progress


async def refresh_parent(conn: AsyncConnection, parent_id: str, now: datetime) -> None:
    """Recompute a parent after a child changed, inside the child's transaction.

    The parent row is locked first so that two children finishing at once on PostgreSQL serialise here and
    the second one counts the first one's change."""
    parent = (
        await conn.execute(
            select(jobs_t.c.status, jobs_t.c.progress, jobs_t.c.owner_id).where(jobs_t.c.id == parent_id).with_for_update()
        )
    ).first()
    if parent is None:
        return
    counts = (await child_counts(conn, [parent_id]))[parent_id]
    status, progress = derive(counts)
    if status.value == parent.status and progress == parent.progress:
        return
    values: dict[str, Any] = {"status": status.value, "progress": progress, "updated_at": now}
    if status is JobStatus.running:
        values["started_at"] = func.coalesce(jobs_t.c.started_at, now)
    if status in TERMINAL:
        values["finished_at"] = now
        values["result"] = {"children": counts}
        if status is JobStatus.succeeded:
            values["phase"] = "done"
        if status is JobStatus.failed:
            values["error"] = {"code": "children_failed", "retryable": False,
                               "message": f"{counts.get('failed', 0)} of {sum(counts.values())} items failed"}
    else:
        values["finished_at"] = None
    await conn.execute(update(jobs_t).where(jobs_t.c.id == parent_id).values(**values))
    if status.value != parent.status:
        type_ = {
            JobStatus.running: EventType.started, JobStatus.succeeded: EventType.succeeded,
            JobStatus.failed: EventType.failed, JobStatus.canceled: EventType.canceled, JobStatus.queued: EventType.queued,
        }[status]
    else:
        type_ = EventType.progress
    data: dict[str, Any] = {"status": status.value, "progress": progress, "children": counts}
    await conn.execute(
        insert(events_t).values(job_id=parent_id, owner_id=parent.owner_id, type=type_.value, data=data, created_at=now)
    )
