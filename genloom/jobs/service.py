"""Job operations for callers (routes, surfaces, CLI): create, read, list, cancel, retry — always owner-scoped.

A job another owner holds answers exactly like an unknown id (JobNotFound), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from genloom.core.db import utc_now
from genloom.core.errors import Forbidden, InvalidInput
from genloom.core.paging import decode_cursor, encode_cursor
from genloom.core.principal import Principal, may_manage, may_read, owner_clause, scoped
from genloom.jobs import batch, controls, enqueueing
from genloom.jobs.errors import JobNotFound, JobStateConflict
from genloom.jobs.models import Job
from genloom.jobs.states import ACTIVE, TERMINAL, JobStatus
from genloom.jobs.tables import jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

Executor = AsyncSession | AsyncConnection

PUBLIC_COLUMNS = (
    "id", "kind", "owner_id", "status", "phase", "progress", "priority", "attempts", "max_attempts", "input", "result",
    "error", "parent_id", "is_batch", "created_at", "started_at", "finished_at", "run_at", "surface",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def job_dict(row: Mapping[str, Any], children: dict[str, int] | None = None) -> dict[str, Any]:
    """The public shape of a job (native API; surfaces translate it)."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "phase": row["phase"],
        "progress": row["progress"],
        "priority": row["priority"],
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "input": row["input"],
        "result": row["result"],
        "error": row["error"],
        "parent_id": row["parent_id"],
        "children": children if row["is_batch"] else None,
        "owner_id": row["owner_id"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "run_at": _iso(row["run_at"]),
    }


async def fetch_row(ex: Executor, job_id: str) -> dict[str, Any] | None:
    row = (await ex.execute(select(*(jobs_t.c[c] for c in PUBLIC_COLUMNS)).where(jobs_t.c.id == job_id))).first()
    return dict(row._mapping) if row is not None else None


def _readable(principal: Principal, row: dict[str, Any] | None) -> bool:
    return row is not None and may_read(principal, row["owner_id"], "jobs")


def _manageable(principal: Principal, row: dict[str, Any] | None, action: str) -> bool:
    """Visible, managed by the caller, and the caller holds the action's permission."""
    return (
        row is not None and may_read(principal, row["owner_id"], "jobs")
        and may_manage(principal, row["owner_id"], "jobs") and principal.can(f"jobs:{action}")
    )


async def with_children(ex: Executor, row: dict[str, Any]) -> dict[str, Any]:
    counts = (await batch.child_counts(ex, [row["id"]]))[row["id"]] if row["is_batch"] else None
    return job_dict(row, counts)


async def get_job(ex: Executor, principal: Principal, job_id: str) -> dict[str, Any]:
    """The job, if the caller may read it; JobNotFound otherwise."""
    row = await fetch_row(ex, job_id)
    if row is None or not _readable(principal, row):
        raise JobNotFound(field="job_id")
    return await with_children(ex, row)


async def list_jobs(
    ex: Executor,
    principal: Principal,
    *,
    status: str | None = None,
    kind: str | None = None,
    parent_id: str | None = None,
    mine: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, cursor-paged. ``mine`` limits an admin to their own jobs."""
    stmt = select(*(jobs_t.c[c] for c in PUBLIC_COLUMNS))
    stmt = scoped(stmt, jobs_t.c.owner_id, principal, "jobs")
    if mine and principal.sees_all("jobs"):
        stmt = stmt.where(jobs_t.c.owner_id == principal.owner_id)
    if status:
        if status not in JobStatus.__members__:
            raise InvalidInput(f"unknown status {status!r}", field="status")
        stmt = stmt.where(jobs_t.c.status == status)
    if kind:
        stmt = stmt.where(jobs_t.c.kind == kind)
    stmt = stmt.where(jobs_t.c.parent_id == parent_id) if parent_id else stmt.where(jobs_t.c.parent_id.is_(None))
    if cursor:
        stmt = stmt.where(jobs_t.c.id < decode_cursor(cursor))
    rows = [dict(r._mapping) for r in (await ex.execute(stmt.order_by(jobs_t.c.id.desc()).limit(limit + 1))).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    counts = await batch.child_counts(ex, [r["id"] for r in rows if r["is_batch"]])
    items = [job_dict(r, counts.get(r["id"])) for r in rows]
    return items, (encode_cursor(rows[-1]["id"]) if more and rows else None)


async def create_job(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    kind: str,
    input: dict[str, Any] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    priority: int = 0,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    idempotency_key: str | None = None,
    surface: str | None = None,
) -> dict[str, Any]:
    """Enqueue a job (or a batch) owned by the caller and return it."""
    if not principal.can("jobs:create"):
        raise Forbidden("you may not create jobs", code="permission_denied")
    if inputs is not None and not inputs:
        raise InvalidInput("inputs must not be empty", field="inputs")
    if inputs is not None and len(inputs) > 1000:
        raise InvalidInput("at most 1000 inputs per batch", field="inputs")
    job_id = await enqueueing.enqueue(
        session, runtime, kind=kind, input=input, inputs=inputs, owner_id=principal.owner_id, priority=priority,
        run_at=run_at, max_attempts=max_attempts, idempotency_key=idempotency_key, surface=surface,
    )
    return await get_job(session, principal, job_id)


async def cancel_job(session: AsyncSession, runtime: Runtime, principal: Principal, job_id: str) -> dict[str, Any]:
    """Cancel a queued job at once; ask a running one to stop (its worker checks between steps)."""
    row = await fetch_row(session, job_id)
    if row is None or not _manageable(principal, row, "cancel"):
        raise JobNotFound(field="job_id")
    if row["status"] in {s.value for s in TERMINAL}:
        raise JobStateConflict(f"job is already {row['status']}", field="job_id")
    ids = [job_id]
    if row["is_batch"]:
        ids += [r.id for r in (await session.execute(select(jobs_t.c.id).where(jobs_t.c.parent_id == job_id))).all()]
    await controls.cancel(session, runtime, ids)
    if row["is_batch"]:
        await batch.refresh_parent(await session.connection(), job_id, utc_now())
    return await get_job(session, principal, job_id)


async def retry_job(session: AsyncSession, runtime: Runtime, principal: Principal, job_id: str) -> dict[str, Any]:
    """Queue a failed or canceled job (or a batch's failed/canceled children) again."""
    row = await fetch_row(session, job_id)
    if row is None or not _manageable(principal, row, "retry"):
        raise JobNotFound(field="job_id")
    retriable = (JobStatus.failed.value, JobStatus.canceled.value)
    if row["status"] not in retriable:
        raise JobStateConflict(f"only failed or canceled jobs can be retried; this one is {row['status']}", field="job_id")
    await controls.requeue(session, runtime, job_id, is_batch=bool(row["is_batch"]))
    return await get_job(session, principal, job_id)


async def queue_stats(ex: Executor, principal: Principal | None = None) -> dict[str, Any]:
    """Counts by status and kind, the age of the oldest due queued job, and live workers."""
    from genloom.jobs.models import WorkerRow

    stmt = select(jobs_t.c.status, jobs_t.c.kind, func.count()).where(jobs_t.c.is_batch.is_(False))
    if principal is not None:
        clause = owner_clause(jobs_t.c.owner_id, principal, "jobs")
        if clause is not None:
            stmt = stmt.where(clause)
    rows = (await ex.execute(stmt.group_by(jobs_t.c.status, jobs_t.c.kind))).all()
    by_status = {s.value: 0 for s in JobStatus}
    by_kind: dict[str, dict[str, int]] = {}
    for status, kind, count in rows:
        by_status[status] = by_status.get(status, 0) + int(count)
        by_kind.setdefault(kind, {})[status] = int(count)
    now = utc_now()
    oldest = (
        await ex.execute(
            select(func.min(jobs_t.c.run_at)).where(
                jobs_t.c.status == JobStatus.queued.value, jobs_t.c.is_batch.is_(False), jobs_t.c.run_at <= now
            )
        )
    ).scalar()
    workers = (
        await ex.execute(select(WorkerRow.id, WorkerRow.hostname, WorkerRow.pid, WorkerRow.concurrency, WorkerRow.seen_at,
                                WorkerRow.database))
    ).all()
    return {
        "by_status": by_status,
        "by_kind": by_kind,
        "oldest_queued_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        "workers": [
            {"id": w.id, "hostname": w.hostname, "pid": w.pid, "concurrency": w.concurrency, "seen_at": _iso(w.seen_at),
             "database": w.database}
            for w in workers
        ],
        "active": sum(by_status.get(s.value, 0) for s in ACTIVE),
    }


__all__ = ["Job", "get_job", "list_jobs", "create_job", "cancel_job", "retry_job", "queue_stats", "job_dict"]


async def read_job(runtime: Runtime, principal: Principal, job_id: str) -> dict[str, Any]:
    """The hot-path read behind status polling: served from the read model (kept fresh by the event hub)
    when it runs, else one Core SELECT on a pooled connection — never an ORM session."""
    row = await _load_row(runtime, job_id)
    if row is None or not _readable(principal, row):
        raise JobNotFound(field="job_id")
    if row["is_batch"]:
        async with runtime.db.reader.connect() as conn:
            return await with_children(conn, row)
    return job_dict(row)


async def _load_row(runtime: Runtime, job_id: str) -> dict[str, Any] | None:
    return await runtime.reads.get_job_row(job_id)
