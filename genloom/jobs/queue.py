"""The durable queue: every job transition is one guarded UPDATE plus one event INSERT, in one transaction.

Every UPDATE that changes a job's status is built by :func:`status_change`, which checks the change against
``states.TRANSITIONS`` and takes the event type from it: the worker's path (claim, progress, finish, fail, retry
later, release) is here, the insert of new jobs in ``enqueueing.py``, the callers' cancel and requeue in
``controls.py``, lease renewal and the janitor's rescue in ``leases.py``.

Guards: a transition out of ``running`` names the worker that holds the lease (``worker_id``) and the status it
expects, so a worker that lost its lease (the janitor rescued the job, another worker holds it now) changes
nothing. Claims take several jobs in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
serialises writers with ``BEGIN IMMEDIATE``, so a claim there first reads whether anything is due at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, Update, and_, case, column, func, insert, select, update, values
from sqlalchemy.dialects.postgresql import JSONB

from genloom.core.backoff import full_jitter
from genloom.core.db import utc_now
from genloom.core.logging import redact, secret_values
from genloom.jobs import batch
from genloom.jobs.log import log_job_transition
from genloom.jobs.states import EventType, JobStatus, transition
from genloom.jobs.tables import event_row, events_t, jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime


#: columns a worker needs to run a job
CLAIM_COLUMNS = (
    jobs_t.c.id, jobs_t.c.kind, jobs_t.c.owner_id, jobs_t.c.parent_id, jobs_t.c.input, jobs_t.c.attempts,
    jobs_t.c.max_attempts, jobs_t.c.priority, jobs_t.c.run_at,
)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    kind: str
    owner_id: str
    parent_id: str | None
    input: dict[str, Any]
    attempts: int
    max_attempts: int
    priority: int


def backoff_seconds(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a provider's Retry-After is a floor, never shortened."""
    delay = full_jitter(attempt, base=base, cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap if cap > 0 else retry_after))
    return delay


def status_change(from_: JobStatus | tuple[JobStatus, ...], to: JobStatus,
                  *where: ColumnElement[bool]) -> tuple[Update, EventType]:
    """``UPDATE jobs SET status = to WHERE status = from_ AND where…`` and the event the change writes.

    The only way a job's status is changed: the (from, to) pair is looked up in ``TRANSITIONS`` (an illegal one
    raises ``IllegalTransition`` before any SQL runs) and the expected status is part of the WHERE clause, so a
    row that moved on meanwhile is left alone. Add the other columns with ``.values(…)``."""
    sources = from_ if isinstance(from_, tuple) else (from_,)
    types = {transition(s, to) for s in sources}
    if len(types) != 1:
        raise ValueError(f"changes to {to.value} from {[s.value for s in sources]} write different events")
    expected = (jobs_t.c.status == sources[0].value if len(sources) == 1
                else jobs_t.c.status.in_([s.value for s in sources]))
    return update(jobs_t).where(expected, *where).values(status=to.value), types.pop()


# --- claim --------------------------------------------------------------------------------------------------


async def _any_due(runtime: Runtime, due: tuple[ColumnElement[bool], ...]) -> bool:
    """SQLite: is anything claimable? A read, which takes no lock. Workers are woken by every commit (their own
    included) and most wake-ups find nothing; a claim that finds nothing would still hold the database's one
    write lock, and every job finishing or starting meanwhile waits for it."""
    async with runtime.db.reader.connect() as conn:
        return (await conn.execute(select(jobs_t.c.id).where(*due).limit(1))).first() is not None


async def claim(runtime: Runtime, worker_id: str, *, limit: int, kinds: list[str]) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs of ``kinds``: best priority first, then oldest run_at."""
    if limit <= 0 or not kinds:
        return []
    now = utc_now()
    due = (jobs_t.c.status == JobStatus.queued.value, jobs_t.c.is_batch.is_(False), jobs_t.c.run_at <= now,
           jobs_t.c.kind.in_(kinds))
    if runtime.db.is_sqlite and not await _any_due(runtime, due):
        return []
    lease_until = now + timedelta(seconds=runtime.settings.lease_seconds)
    pick = (
        select(jobs_t.c.id)
        .where(*due)
        .order_by(jobs_t.c.priority.desc(), jobs_t.c.run_at, jobs_t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # A materialised CTE runs once; "id IN (sub-select … LIMIT n)" may be re-run per row by PostgreSQL's
        # planner and then claims more than n.
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    start, started = status_change(JobStatus.queued, JobStatus.running, jobs_t.c.id == pick.c.id)
    stmt = (
        start
        .values(
            worker_id=worker_id, lease_until=lease_until,
            attempts=jobs_t.c.attempts + 1, started_at=func.coalesce(jobs_t.c.started_at, now), updated_at=now,
            phase=None,
        )
        .returning(*CLAIM_COLUMNS)
    )
    async with runtime.db.write() as conn:
        rows = list((await conn.execute(stmt)).all())
        if not rows:
            return []
        await conn.execute(
            insert(events_t),
            [
                event_row(r.id, r.owner_id, started,
                          {"status": JobStatus.running.value, "progress": 0, "attempts": r.attempts}, now)
                for r in rows
            ],
        )
        for parent_id in {r.parent_id for r in rows if r.parent_id}:
            await batch.refresh_parent(conn, parent_id, now)
        await runtime.signals.notify_in_txn(conn, events=True)
    runtime.signals.wake_local(events=True)
    # RETURNING does not keep the sub-select's order: start the best jobs first.
    rows.sort(key=lambda r: (-r.priority, r.run_at, r.id))
    claimed = [ClaimedJob(r.id, r.kind, r.owner_id, r.parent_id, r.input or {}, r.attempts, r.max_attempts, r.priority)
               for r in rows]
    for job in claimed:
        log_job_transition("started", job_id=job.id, kind=job.kind, status=JobStatus.running.value,
                           attempt=job.attempts, worker=worker_id)
    return claimed


# --- transitions out of running (all guarded by worker_id) ---------------------------------------------------


def _lease(job_id: str, worker_id: str) -> ColumnElement[bool]:
    """The job, if this worker holds its lease (the status guard is added by ``status_change``)."""
    return and_(jobs_t.c.id == job_id, jobs_t.c.worker_id == worker_id)


def _held(job_id: str, worker_id: str) -> ColumnElement[bool]:
    """The job, if it is running under this worker's lease: for updates that leave the status as it is."""
    return and_(_lease(job_id, worker_id), jobs_t.c.status == JobStatus.running.value)


async def report(runtime: Runtime, job_id: str, worker_id: str, progress: int, phase: str | None) -> tuple[bool, bool]:
    """Record progress/phase. Returns (still held, cancel requested)."""
    now = utc_now()
    values: dict[str, Any] = {"progress": progress, "updated_at": now}
    if phase is not None:
        values["phase"] = phase
    async with runtime.db.write() as conn:
        row = (
            await conn.execute(
                update(jobs_t).where(_held(job_id, worker_id)).values(**values)
                .returning(jobs_t.c.owner_id, jobs_t.c.cancel_requested, jobs_t.c.phase)
            )
        ).first()
        if row is None:
            return False, False
        type_ = EventType.phase if phase is not None else EventType.progress
        data = {"status": JobStatus.running.value, "progress": progress, "phase": row.phase}
        await conn.execute(insert(events_t).values(**event_row(job_id, row.owner_id, type_, data, now)))
        await runtime.signals.notify_in_txn(conn, events=True)
    runtime.signals.wake_local(events=True)
    return True, bool(row.cancel_requested)


async def complete(runtime: Runtime, job_id: str, worker_id: str, result: dict[str, Any]) -> bool:
    """running → succeeded. False when this worker no longer holds the job."""
    return job_id in await complete_many(runtime, worker_id, [(job_id, result)])


async def complete_many(runtime: Runtime, worker_id: str, items: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """Finish several jobs in one transaction (the worker batches completions); returns the ids it finished.

    Each job is guarded as usual: ids this worker no longer holds are left alone."""
    if not items:
        return set()
    now = utc_now()
    results = dict(items)
    returning = (jobs_t.c.id, jobs_t.c.kind, jobs_t.c.owner_id, jobs_t.c.parent_id, jobs_t.c.attempts, jobs_t.c.phase)
    # a finished job is in no step any more: its phase says "done", not the last step it ran (say "storing")
    done = {"progress": 100, "phase": "done", "error": None, "finished_at": now, "updated_at": now,
            "lease_until": None}
    succeeded = transition(JobStatus.running, JobStatus.succeeded)
    async with runtime.db.write() as conn:
        if runtime.db.is_sqlite or len(items) == 1:
            rows = []
            for job_id, result in items:
                row = (
                    await conn.execute(
                        status_change(JobStatus.running, JobStatus.succeeded, _lease(job_id, worker_id))[0]
                        .values(**done, result=result).returning(*returning)
                    )
                ).first()
                if row is not None:
                    rows.append(row)
        else:
            batch_values = values(
                column("vid", String), column("vresult", JSONB), name="v"
            ).data([(job_id, result) for job_id, result in items])
            rows = list(
                (
                    await conn.execute(
                        status_change(JobStatus.running, JobStatus.succeeded, jobs_t.c.id == batch_values.c.vid,
                                      jobs_t.c.worker_id == worker_id)[0]
                        .values(**done, result=batch_values.c.vresult)
                        .returning(*returning)
                    )
                ).all()
            )
        if not rows:
            return set()
        await conn.execute(
            insert(events_t),
            [
                event_row(r.id, r.owner_id, succeeded,
                          {"status": JobStatus.succeeded.value, "progress": 100, "attempts": r.attempts, "phase": r.phase,
                           "result": results[r.id]}, now)
                for r in rows
            ],
        )
        for parent_id in sorted({r.parent_id for r in rows if r.parent_id}):
            await batch.refresh_parent(conn, parent_id, now)
        await runtime.signals.notify_in_txn(conn, events=True)
    runtime.signals.wake_local(events=True)
    for r in rows:
        log_job_transition("succeeded", job_id=r.id, kind=r.kind, status=JobStatus.succeeded.value,
                           attempt=r.attempts, worker=worker_id)
    return {r.id for r in rows}


async def fail(
    runtime: Runtime,
    job_id: str,
    worker_id: str,
    *,
    code: str,
    message: str,
    retryable: bool,
    retry_after: float | None = None,
) -> str | None:
    """running → queued (retry later) or failed. Returns the new status, or None if the lease was lost."""
    now = utc_now()
    settings = runtime.settings
    async with runtime.db.write() as conn:
        cur = (
            await conn.execute(select(jobs_t.c.attempts, jobs_t.c.max_attempts).where(_held(job_id, worker_id)))
        ).first()
        if cur is None:
            return None
        # stored, streamed to clients and shown in UIs: never with a key a client library put in its exception
        error = {"code": code, "message": redact(message, secret_values(settings))[:2000], "retryable": retryable}
        if retryable and cur.attempts < cur.max_attempts:
            delay = backoff_seconds(cur.attempts, base=settings.retry_base_seconds, cap=settings.retry_cap_seconds,
                                    retry_after=retry_after)
            values: dict[str, Any] = {"run_at": now + timedelta(seconds=delay), "worker_id": None, "lease_until": None,
                                      "error": error}
            new_status = JobStatus.queued
            extra: dict[str, Any] = {"retry_in": round(delay, 3)}
        else:
            values = {"finished_at": now, "lease_until": None, "error": error}
            new_status, extra = JobStatus.failed, {}
        stmt, type_ = status_change(JobStatus.running, new_status, _lease(job_id, worker_id))
        row = (
            await conn.execute(
                stmt.values(**values, updated_at=now)
                .returning(jobs_t.c.kind, jobs_t.c.owner_id, jobs_t.c.parent_id, jobs_t.c.progress, jobs_t.c.phase)
            )
        ).first()
        if row is None:
            return None
        data = {"status": new_status.value, "progress": row.progress, "phase": row.phase, "attempts": cur.attempts,
                "error": error, **extra}
        await conn.execute(insert(events_t).values(**event_row(job_id, row.owner_id, type_, data, now)))
        if row.parent_id and new_status is JobStatus.failed:
            await batch.refresh_parent(conn, row.parent_id, now)
        await runtime.signals.notify_in_txn(conn, jobs=new_status is JobStatus.queued, events=True)
    runtime.signals.wake_local(jobs=new_status is JobStatus.queued, events=True)
    log_job_transition(type_.value, job_id=job_id, kind=row.kind, status=new_status.value, code=code,
                       attempt=cur.attempts)
    return new_status.value


async def mark_canceled(runtime: Runtime, job_id: str, worker_id: str) -> bool:
    """running → canceled, after the handler stopped on a cancel request."""
    return await _leave_running(runtime, job_id, worker_id, JobStatus.canceled)


async def release(runtime: Runtime, job_id: str, worker_id: str, *, run_at: datetime | None = None,
                  error: dict[str, Any] | None = None, reason: str = "released") -> bool:
    """running → queued without using up an attempt: a graceful shutdown could not finish it, the database went
    away under it, or its provider is down (it then waits until ``run_at``, ``error`` saying why)."""
    return await _leave_running(runtime, job_id, worker_id, JobStatus.queued, give_back=True,
                                run_at=run_at, error=error, reason=reason)


async def _leave_running(
    runtime: Runtime, job_id: str, worker_id: str, status: JobStatus, *, give_back: bool = False,
    run_at: datetime | None = None, error: dict[str, Any] | None = None, reason: str = "released",
) -> bool:
    now = utc_now()
    stmt, type_ = status_change(JobStatus.running, status, _lease(job_id, worker_id))
    values: dict[str, Any] = {"updated_at": now, "lease_until": None}
    if error is not None:
        values["error"] = error
    if status is JobStatus.queued:
        values |= {"worker_id": None, "run_at": max(run_at, now) if run_at is not None else now}
        if give_back:
            values["attempts"] = case((jobs_t.c.attempts > 0, jobs_t.c.attempts - 1), else_=0)
    else:
        values["finished_at"] = now
    async with runtime.db.write() as conn:
        row = (
            await conn.execute(
                stmt.values(**values)
                .returning(jobs_t.c.kind, jobs_t.c.owner_id, jobs_t.c.parent_id, jobs_t.c.progress, jobs_t.c.attempts)
            )
        ).first()
        if row is None:
            return False
        data: dict[str, Any] = {"status": status.value, "progress": row.progress, "attempts": row.attempts}
        if give_back:
            data["reason"] = reason
        if error is not None:
            data["error"] = error
        if run_at is not None and status is JobStatus.queued:
            data["retry_in"] = round(max(0.0, (run_at - now).total_seconds()), 3)
        await conn.execute(insert(events_t).values(**event_row(job_id, row.owner_id, type_, data, now)))
        if row.parent_id and status is JobStatus.canceled:
            await batch.refresh_parent(conn, row.parent_id, now)
        await runtime.signals.notify_in_txn(conn, jobs=status is JobStatus.queued, events=True)
    runtime.signals.wake_local(jobs=status is JobStatus.queued, events=True)
    log_job_transition(type_.value, job_id=job_id, kind=row.kind, status=status.value, worker=worker_id)
    return True
