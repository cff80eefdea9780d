"""Putting jobs on the queue: one job, or a batch parent with its children, and their ``queued`` events, inside
the caller's transaction; an Idempotency-Key answers a repeat with the first job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from genloom.core.db import utc_now
from genloom.core.ids import new_id
from genloom.jobs.log import log_job_transition
from genloom.jobs.states import EventType, JobStatus
from genloom.jobs.tables import event_row, events_t, jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

Executor = AsyncSession | AsyncConnection


async def find_idempotent(ex: Executor, runtime: Runtime, owner_id: str, key: str) -> str | None:
    """The id of the job created with this key in the last ``idempotency_hours``, if any."""
    row = (
        await ex.execute(
            select(jobs_t.c.id, jobs_t.c.created_at).where(
                jobs_t.c.owner_id == owner_id, jobs_t.c.idempotency_key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.created_at < utc_now() - timedelta(hours=runtime.settings.idempotency_hours):
        # The key's window is over: free it so a new job can take it.
        await ex.execute(update(jobs_t).where(jobs_t.c.id == row.id).values(idempotency_key=None))
        return None
    return str(row.id)


async def enqueue(
    ex: Executor,
    runtime: Runtime,
    *,
    kind: str,
    input: dict[str, Any] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    owner_id: str,
    priority: int = 0,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    idempotency_key: str | None = None,
    surface: str | None = None,
) -> str:
    """Insert a job (or a batch parent with one child per entry of ``inputs``) and its ``queued`` event(s).

    Runs inside the caller's transaction; workers are woken after it commits. Returns the job id (for a
    repeated Idempotency-Key, the id of the first job)."""
    # An empty key (a bare "Idempotency-Key:" header) means no key: stored as "", the second such request
    # would skip the lookup below yet hit the unique (owner_id, idempotency_key) index.
    idempotency_key = idempotency_key or None
    if idempotency_key:
        existing = await find_idempotent(ex, runtime, owner_id, idempotency_key)
        if existing is not None:
            return existing
    now = utc_now()
    due = run_at or now
    attempts_cap = max_attempts or runtime.settings.job_max_attempts
    base = {
        "kind": kind, "owner_id": owner_id, "status": JobStatus.queued.value, "progress": 0, "priority": priority,
        "attempts": 0, "max_attempts": attempts_cap, "run_at": due, "cancel_requested": False, "surface": surface,
        "created_at": now, "updated_at": now, "is_batch": False, "parent_id": None, "idempotency_key": None,
    }
    job_id = new_id()
    rows: list[dict[str, Any]]
    if inputs is None:
        data = runtime.kinds.validate_input(kind, input or {})
        rows = [{**base, "id": job_id, "input": data, "idempotency_key": idempotency_key}]
    else:
        validated = [runtime.kinds.validate_input(kind, item, field_prefix=f"inputs.{i}") for i, item in enumerate(inputs)]
        rows = [{**base, "id": job_id, "input": {"count": len(validated)}, "is_batch": True,
                 "idempotency_key": idempotency_key}]
        rows += [{**base, "id": new_id(), "parent_id": job_id, "input": item} for item in validated]
    if idempotency_key:
        try:
            async with ex.begin_nested():
                await ex.execute(insert(jobs_t), rows)
        except IntegrityError:
            # A concurrent request with the same key committed between our lookup and this insert (PostgreSQL
            # makes the insert wait for it, then refuses it): answer with its job, as for a later repeat.
            existing = await find_idempotent(ex, runtime, owner_id, idempotency_key)
            if existing is None:
                raise
            return existing
    else:
        await ex.execute(insert(jobs_t), rows)
    queued = {"status": JobStatus.queued.value, "progress": 0, "attempts": 0}
    await ex.execute(insert(events_t), [event_row(r["id"], owner_id, EventType.queued, queued, now) for r in rows])
    conn = await _connection(ex)
    await runtime.signals.notify_in_txn(conn, jobs=True, events=True)
    runtime.signals.wake_after_commit(ex)
    log_job_transition("enqueued", job_id=job_id, kind=kind, status=JobStatus.queued.value, owner=owner_id,
                       children=len(rows) - 1)
    return job_id


async def _connection(ex: Executor) -> AsyncConnection:
    return await ex.connection() if isinstance(ex, AsyncSession) else ex
