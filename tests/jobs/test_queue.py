"""Queue semantics through the real database: claims, retries, cancel, idempotency, batches, pruning."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.principal import ANONYMOUS, BASE_PERMISSIONS, Principal
from genloom.jobs import janitor, queue, service
from genloom.jobs.errors import JobNotFound, JobStateConflict
from genloom.jobs.models import Job, JobEvent
from genloom.jobs.worker import Worker
from genloom.runtime import Runtime
from tests.conftest import drain


async def create(runtime: Runtime, kind: str = "noop", principal: Principal = ANONYMOUS, **kw) -> dict:
    async with runtime.db.session() as s:
        return await service.create_job(s, runtime, principal, kind=kind, **kw)


async def get(runtime: Runtime, job_id: str, principal: Principal = ANONYMOUS) -> dict:
    async with runtime.db.read_session() as s:
        return await service.get_job(s, principal, job_id)


async def events(runtime: Runtime, job_id: str) -> list[str]:
    async with runtime.db.read_session() as s:
        rows = (await s.execute(select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.id))).all()
    return [r.type for r in rows]


async def test_noop_runs_and_records_events(runtime: Runtime) -> None:
    job = await create(runtime, input={"hello": "世界"})
    assert job["status"] == "queued" and job["attempts"] == 0
    await drain(runtime)
    done = await get(runtime, job["id"])
    assert done["status"] == "succeeded"
    assert done["result"] == {"ok": True, "echo": {"hello": "世界"}}
    assert done["attempts"] == 1 and done["progress"] == 100
    assert done["started_at"] and done["finished_at"]
    assert await events(runtime, job["id"]) == ["queued", "started", "succeeded"]


async def test_priority_then_age_order(runtime: Runtime) -> None:
    low = await create(runtime, input={"n": 1})
    high = await create(runtime, input={"n": 2}, priority=10)
    later = await create(runtime, input={"n": 3}, run_at=utc_now() + timedelta(hours=1))
    claimed = await queue.claim(runtime, "w1", limit=10, kinds=["noop"])
    assert [c.id for c in claimed][:2] == [high["id"], low["id"]] or {c.id for c in claimed} == {high["id"], low["id"]}
    assert claimed[0].id == high["id"]
    assert later["id"] not in {c.id for c in claimed}


async def test_two_claims_never_share_a_job(runtime: Runtime) -> None:
    for i in range(30):
        await create(runtime, input={"i": i})
    results = await asyncio.gather(*(queue.claim(runtime, f"w{i}", limit=7, kinds=["noop"]) for i in range(6)))
    ids = [c.id for batch in results for c in batch]
    assert len(ids) == len(set(ids)) == 30


async def test_retryable_failure_is_retried_with_backoff(runtime: Runtime) -> None:
    job = await create(runtime, kind="sleep", input={"seconds": 0, "fail": "retryable", "fail_times": 1})
    await drain(runtime)
    done = await get(runtime, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert await events(runtime, job["id"]) == ["queued", "started", "retrying", "started", "phase", "succeeded"] or \
        (await events(runtime, job["id"]))[:3] == ["queued", "started", "retrying"]


async def test_retry_after_is_honoured(runtime: Runtime) -> None:
    job = await create(runtime, kind="sleep", input={"seconds": 0, "fail": "retryable", "retry_after": 120})
    w = Worker(runtime, concurrency=1)
    await w.drain()
    row = await get(runtime, job["id"])
    assert row["status"] == "queued" and row["error"]["retryable"] is True
    async with runtime.db.read_session() as s:
        run_at = (await s.execute(select(Job.run_at).where(Job.id == job["id"]))).scalar_one()
    assert run_at >= utc_now() + timedelta(seconds=100)


async def test_non_retryable_failure_fails_at_once(runtime: Runtime) -> None:
    job = await create(runtime, kind="sleep", input={"seconds": 0, "fail": "fatal"}, max_attempts=5)
    await drain(runtime)
    done = await get(runtime, job["id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"] == {"code": "simulated_fatal", "message": "simulated permanent failure", "retryable": False}


async def test_attempts_exhausted(runtime: Runtime) -> None:
    job = await create(runtime, kind="sleep", input={"seconds": 0, "fail": "retryable", "fail_times": 10}, max_attempts=2)
    await drain(runtime)
    done = await get(runtime, job["id"])
    assert done["status"] == "failed" and done["attempts"] == 2 and done["error"]["retryable"] is True


def test_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    delays = [queue.backoff_seconds(5, base=2, cap=10) for _ in range(200)]
    assert all(0 <= d <= 10 for d in delays) and len(set(delays)) > 100
    assert queue.backoff_seconds(1, base=2, cap=300, retry_after=30) >= 30
    assert queue.backoff_seconds(1, base=0, cap=0) == 0


async def test_cancel_queued(runtime: Runtime) -> None:
    job = await create(runtime)
    async with runtime.db.session() as s:
        out = await service.cancel_job(s, runtime, ANONYMOUS, job["id"])
    assert out["status"] == "canceled"
    await drain(runtime)
    assert (await get(runtime, job["id"]))["status"] == "canceled"
    async with runtime.db.session() as s:
        with pytest.raises(JobStateConflict):
            await service.cancel_job(s, runtime, ANONYMOUS, job["id"])


async def start_long_job(runtime: Runtime) -> tuple[dict, Worker, asyncio.Event, asyncio.Task[None]]:
    """A 30-second sleep job, held by a running worker."""
    job = await create(runtime, kind="sleep", input={"seconds": 30})
    stop = asyncio.Event()
    w = Worker(runtime, concurrency=1)
    task = asyncio.create_task(w.run(stop))
    for _ in range(200):
        if (await get(runtime, job["id"]))["status"] == "running":
            break
        await asyncio.sleep(0.02)
    return job, w, stop, task


async def test_cancel_running(runtime: Runtime) -> None:
    job, w, stop, task = await start_long_job(runtime)
    async with runtime.db.session() as s:
        flagged = await service.cancel_job(s, runtime, ANONYMOUS, job["id"])
    assert flagged["status"] == "running"
    for _ in range(300):
        if (await get(runtime, job["id"]))["status"] == "canceled":
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    await w.shutdown(1)
    assert (await get(runtime, job["id"]))["status"] == "canceled"
    assert (await events(runtime, job["id"]))[-1] == "canceled"


async def test_retry_endpoint_logic(runtime: Runtime) -> None:
    job = await create(runtime, kind="sleep", input={"seconds": 0, "fail": "fatal"})
    await drain(runtime)
    async with runtime.db.session() as s:
        again = await service.retry_job(s, runtime, ANONYMOUS, job["id"])
    assert again["status"] == "queued" and again["error"] is None and again["attempts"] == 0
    async with runtime.db.session() as s:
        with pytest.raises(JobStateConflict):
            await service.retry_job(s, runtime, ANONYMOUS, job["id"])


async def test_idempotency_key_returns_first_job(runtime: Runtime) -> None:
    a = await create(runtime, input={"a": 1}, idempotency_key="k-1")
    b = await create(runtime, input={"a": 2}, idempotency_key="k-1")
    assert a["id"] == b["id"] and b["input"] == {"a": 1}
    other = Principal(owner_id="u:someone", kind="user", permissions=BASE_PERMISSIONS)
    c = await create(runtime, input={"a": 3}, idempotency_key="k-1", principal=other)
    assert c["id"] != a["id"]
    # past the window the key is free again
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.id == a["id"]).values(created_at=utc_now() - timedelta(hours=25)))
    d = await create(runtime, input={"a": 4}, idempotency_key="k-1")
    assert d["id"] != a["id"]


async def test_concurrent_idempotency_key_returns_first_job(runtime: Runtime) -> None:
    # The second request looks the key up before the first commits; PostgreSQL then makes its insert wait on the
    # unique index and refuses it (this was a 500). SQLite serialises the two writers instead.
    async with runtime.db.session() as s:
        first = await service.create_job(s, runtime, ANONYMOUS, kind="noop", input={"a": 1}, idempotency_key="k-2")
        second = asyncio.create_task(create(runtime, input={"a": 2}, idempotency_key="k-2"))
        await asyncio.sleep(0.3)  # let it reach the database while the first job is uncommitted
    again = await second
    assert again["id"] == first["id"] and again["input"] == {"a": 1}
    async with runtime.db.read_session() as s:
        assert len((await s.execute(select(Job.id))).all()) == 1


async def test_invalid_input_leaves_nothing(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as err:
        await create(runtime, kind="sleep", input={"seconds": 601})
    assert err.value.field == "input.seconds"
    with pytest.raises(InvalidInput):
        await create(runtime, kind="nope", input={})
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(Job.id))).all() == []
        assert (await s.execute(select(JobEvent.id))).all() == []


async def test_batch_parent_follows_children(runtime: Runtime) -> None:
    parent = await create(runtime, kind="sleep", inputs=[{"seconds": 0}, {"seconds": 0}, {"seconds": 0, "fail": "fatal"}])
    assert parent["children"] == {"queued": 3}
    assert parent["status"] == "queued"
    await drain(runtime)
    done = await get(runtime, parent["id"])
    assert done["status"] == "failed" and done["progress"] == 100
    assert done["children"] == {"succeeded": 2, "failed": 1}
    async with runtime.db.read_session() as s:
        kids, _ = await service.list_jobs(s, ANONYMOUS, parent_id=parent["id"])
    assert len(kids) == 3 and all(k["parent_id"] == parent["id"] for k in kids)
    # retrying the parent queues only the failed child
    async with runtime.db.session() as s:
        await service.retry_job(s, runtime, ANONYMOUS, parent["id"])
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.parent_id == parent["id"]).values(input={"seconds": 0}))
    await drain(runtime)
    assert (await get(runtime, parent["id"]))["status"] == "succeeded"


async def test_batch_cancel_cancels_children(runtime: Runtime) -> None:
    parent = await create(runtime, kind="noop", inputs=[{}, {}])
    async with runtime.db.session() as s:
        out = await service.cancel_job(s, runtime, ANONYMOUS, parent["id"])
    assert out["status"] == "canceled" and out["children"] == {"canceled": 2}


async def test_owner_scoping(runtime: Runtime) -> None:
    alice = Principal(owner_id="u:alice", kind="user", permissions=BASE_PERMISSIONS)
    bob = Principal(owner_id="u:bob", kind="user", permissions=BASE_PERMISSIONS)
    admin = Principal(owner_id="u:root", kind="user", permissions=BASE_PERMISSIONS | {"jobs:read:any"})
    job = await create(runtime, principal=alice)
    with pytest.raises(JobNotFound):
        await get(runtime, job["id"], bob)
    assert (await get(runtime, job["id"], admin))["id"] == job["id"]
    async with runtime.db.read_session() as s:
        assert (await service.list_jobs(s, bob))[0] == []
        assert len((await service.list_jobs(s, admin))[0]) == 1
        assert (await service.list_jobs(s, admin, mine=True))[0] == []
    async with runtime.db.session() as s:
        with pytest.raises(JobNotFound):
            await service.cancel_job(s, runtime, bob, job["id"])


async def test_cursor_paging(runtime: Runtime) -> None:
    ids = [(await create(runtime, input={"i": i}))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    async with runtime.db.read_session() as s:
        while True:
            items, cursor = await service.list_jobs(s, ANONYMOUS, limit=2, cursor=cursor)
            seen += [i["id"] for i in items]
            if cursor is None:
                break
    assert seen == list(reversed(ids))


async def test_lost_lease_cannot_finish(runtime: Runtime) -> None:
    job = await create(runtime)
    [claimed] = await queue.claim(runtime, "dead-worker", limit=1, kinds=["noop"])
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.id == job["id"]).values(lease_until=utc_now() - timedelta(seconds=1)))
    assert await janitor.rescue_expired(runtime) == {"requeued": 1, "failed": 0}
    await drain(runtime)
    assert (await get(runtime, job["id"]))["status"] == "succeeded"
    # the dead worker's late reports change nothing
    assert await queue.complete(runtime, job["id"], "dead-worker", {"late": True}) is False
    assert await queue.fail(runtime, job["id"], "dead-worker", code="x", message="late", retryable=False) is None
    assert await queue.report(runtime, job["id"], "dead-worker", 5, "late") == (False, False)
    done = await get(runtime, job["id"])
    assert done["status"] == "succeeded" and done["result"] != {"late": True} and done["attempts"] == 2


async def test_lease_expired_without_attempts_fails(runtime: Runtime) -> None:
    job = await create(runtime, max_attempts=1)
    await queue.claim(runtime, "w", limit=1, kinds=["noop"])
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.id == job["id"]).values(lease_until=utc_now() - timedelta(seconds=1)))
    assert await janitor.rescue_expired(runtime) == {"requeued": 0, "failed": 1}
    assert (await get(runtime, job["id"]))["error"]["code"] == "lease_expired"


async def test_prune_removes_old_finished_jobs_and_events(runtime: Runtime) -> None:
    old = await create(runtime)
    fresh = await create(runtime)
    parent = await create(runtime, inputs=[{}, {}])
    await drain(runtime)
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.id.in_([old["id"], parent["id"]]))
                        .values(finished_at=utc_now() - timedelta(hours=30)))
    out = await janitor.prune(runtime)
    assert out["jobs"] == 2
    async with runtime.db.read_session() as s:
        left = {r.id for r in (await s.execute(select(Job.id))).all()}
        ev = {r.job_id for r in (await s.execute(select(JobEvent.job_id))).all()}
    assert left == {fresh["id"]} and ev == {fresh["id"]}


async def test_per_kind_concurrency(settings, runtime: Runtime) -> None:
    runtime.settings.kind_concurrency = {"sleep": 1}
    for _ in range(3):
        await create(runtime, kind="sleep", input={"seconds": 0.2})
    w = Worker(runtime, concurrency=4)
    assert await w._fill_slots() == 1
    assert await w._fill_slots() == 0
    await w.drain()


async def test_shutdown_releases_running_jobs(runtime: Runtime) -> None:
    job, w, stop, task = await start_long_job(runtime)
    stop.set()
    await task
    await w.shutdown(0.1)
    back = await get(runtime, job["id"])
    assert back["status"] == "queued" and back["attempts"] == 0


async def test_permission_to_create_is_checked(runtime: Runtime) -> None:
    from genloom.core.errors import Forbidden

    reader = Principal(owner_id="u:viewer", kind="user", permissions=frozenset({"jobs:read"}))
    with pytest.raises(Forbidden):
        await create(runtime, principal=reader)


async def test_a_sqlite_claim_with_nothing_due_takes_no_write_lock(runtime: Runtime) -> None:
    """Workers wake at every commit and most wake-ups find nothing: such a claim must not queue for SQLite's one
    write lock (every job starting or finishing meanwhile would wait for it). Another process holds that lock."""
    if not runtime.db.is_sqlite:
        pytest.skip("SQLite only: PostgreSQL claims with FOR UPDATE SKIP LOCKED and takes no database-wide lock")
    import sqlite3

    from sqlalchemy.engine import make_url

    later = await create(runtime, input={"n": 1}, run_at=utc_now() + timedelta(hours=1))
    path = make_url(runtime.settings.database_url).database
    assert path
    locker = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
    try:
        assert await asyncio.wait_for(queue.claim(runtime, "w1", limit=5, kinds=["noop"]), 2.0) == []
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert (await get(runtime, later["id"]))["status"] == "queued"
