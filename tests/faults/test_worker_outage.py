"""Workers outlive their database going away: a PostgreSQL server stopped under running jobs (its own server,
never the shared one), and a SQLite file locked out past the busy timeout. Jobs whose handler hit the outage
go back to the queue without using up an attempt, and everything finishes once the database is back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from genloom.assembly import build_runtime, start_runtime
from genloom.core.db import utc_now
from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.jobs.janitor import run_janitor_forever
from genloom.jobs.models import WorkerRow
from genloom.jobs.tables import events_t, jobs_t
from genloom.jobs.worker import Worker
from genloom.runtime import Runtime
from tests.conftest import settings_for
from tests.pgserver import PgServer


async def _runtime(url: str, tmp_path: Path, **overrides: Any) -> Runtime:
    rt = build_runtime(settings_for(url, tmp_path, lease_seconds=6.0, **overrides))
    await start_runtime(rt, migrate=False)
    return rt


async def _create(rt: Runtime, kind: str, input: dict[str, Any], *, run_at: datetime | None = None) -> str:
    async with rt.db.session() as s:
        job = await service.create_job(s, rt, ANONYMOUS, kind=kind, input=input, run_at=run_at)
    return str(job["id"])


async def _statuses(rt: Runtime, ids: list[str]) -> dict[str, tuple[str, int]]:
    async with rt.db.reader.connect() as conn:
        rows = (await conn.execute(select(jobs_t.c.id, jobs_t.c.status, jobs_t.c.attempts)
                                   .where(jobs_t.c.id.in_(ids)))).all()
    return {r.id: (r.status, r.attempts) for r in rows}


async def _wait(rt: Runtime, ids: list[str], status: str, timeout: float) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen = await _statuses(rt, ids)
        except Exception:  # noqa: BLE001 - the database may still be coming back
            seen = {}
        if len(seen) == len(ids) and all(s == status for s, _ in seen.values()):
            return seen
        assert time.monotonic() < deadline, f"jobs not all {status}: {seen}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def pg_runtime(own_pg_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = await _runtime(own_pg_url, tmp_path)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.mark.slow
async def test_worker_survives_postgres_going_away(pg_runtime: Runtime, own_pg: PgServer) -> None:
    rt = pg_runtime
    stop = asyncio.Event()
    worker = Worker(rt, concurrency=4, name="outage")
    run = asyncio.create_task(worker.run(stop))
    janitor = asyncio.create_task(run_janitor_forever(rt, stop))
    try:
        sleepers = [await _create(rt, "sleep", {"seconds": 3}) for _ in range(3)]
        await _wait(rt, sleepers, "running", 20)
        await asyncio.to_thread(own_pg.stop)  # immediate shutdown: every connection cut mid-job
        await asyncio.sleep(2.5)  # each sleeper's next progress write fails; claims and heartbeats fail
        assert not run.done(), "the worker stopped with its database"
        assert not janitor.done(), "the janitor stopped with its database"
        await asyncio.to_thread(own_pg.start)
        later = [await _create(rt, "noop", {"n": i}) for i in range(5)]
        done = await _wait(rt, sleepers + later, "succeeded", 60)
        assert not run.done() and not janitor.done()
        # the outage was not the jobs' fault: the released sleepers still show their first attempt
        assert all(attempts == 1 for _, attempts in done.values()), done
        async with rt.db.reader.connect() as conn:
            history = (await conn.execute(select(events_t.c.job_id, events_t.c.type, events_t.c.data).where(
                events_t.c.job_id.in_(sleepers)).order_by(events_t.c.id))).all()
            released = [e for e in history if e.type == "retrying" and e.data["reason"] == "database_unavailable"]
            workers = (await conn.execute(select(WorkerRow.id))).all()
        assert {r.job_id for r in released} == set(sleepers), [(e.job_id[-4:], e.type, e.data) for e in history]
        assert [w.id for w in workers] == [worker.id]
        # the worker's row says what it went through, for GET /v1/queue
        deadline = time.monotonic() + 10
        while True:
            async with rt.db.reader.connect() as conn:
                seen = (await conn.execute(select(WorkerRow.database).where(WorkerRow.id == worker.id))).scalar()
            if seen and seen["outages"] >= 1 and seen["reachable"]:
                break
            assert time.monotonic() < deadline, seen
            await asyncio.sleep(0.2)
        assert seen["last_error"] and seen["last_error_at"] <= seen["since"]
        state = rt.db.reachability.snapshot()
        assert state["reachable"] is True and state["outages"] >= 1 and state["last_error"]
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        await asyncio.wait_for(janitor, 30)
        await worker.shutdown(2)


async def test_worker_survives_sqlite_locked_out(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "genloom.db"
    path.write_bytes(sqlite_template.read_bytes())
    rt = await _runtime(f"sqlite+aiosqlite:///{path}", tmp_path, db_busy_timeout_ms=100)
    stop = asyncio.Event()
    worker = Worker(rt, concurrency=2, name="locked")
    run = asyncio.create_task(worker.run(stop))
    try:
        first = await _create(rt, "noop", {"n": 0})
        await _wait(rt, [first], "succeeded", 20)
        # A job falls due while another process holds the write lock for far longer than the busy timeout: the
        # worker's claim (a read sees the job due) cannot take the lock. Taken from a thread: waiting for it on
        # the event loop would stall the worker's own open transaction, which needs the loop to finish.
        due = await _create(rt, "noop", {"n": 1}, run_at=utc_now() + timedelta(seconds=0.5))
        locker = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
        await asyncio.sleep(1.5)
        assert not run.done()
        assert (await _statuses(rt, [due]))[due][0] == "queued"
        locker.execute("ROLLBACK")
        locker.close()
        later = [await _create(rt, "noop", {"n": i}) for i in range(2, 5)]
        await _wait(rt, [first, due, *later], "succeeded", 20)
        assert not run.done()
        assert rt.db.reachability.outages >= 1
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        await worker.shutdown(2)
        await rt.close()
