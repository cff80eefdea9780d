"""The event hub against the real database: order, replay + live hand-over, visibility, back-pressure, gaps."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from genloom.core.db import utc_now
from genloom.core.principal import ANONYMOUS, Principal
from genloom.events import hub as hub_module
from genloom.events.hub import Hub, SubscriberOverflow
from genloom.jobs.models import JobEvent
from genloom.runtime import Runtime
from tests.events.conftest import caught_up, finish, new_job, progress, start_job, take

ALICE = Principal.for_client("alice-client-1")
BOB = Principal.for_client("bob-client-22")
ADMIN = Principal(owner_id="u:admin", kind="user", permissions=frozenset({"*:read:any"}))


async def stored_ids(runtime: Runtime, after: int = 0) -> list[int]:
    async with runtime.db.reader.connect() as conn:
        rows = (await conn.execute(select(JobEvent.id).where(JobEvent.id > after).order_by(JobEvent.id))).all()
    return [int(r.id) for r in rows]


async def run_job(runtime: Runtime, principal: Principal = ANONYMOUS, steps: int = 2) -> str:
    job_id = await new_job(runtime, principal)
    await start_job(runtime, job_id)
    for i in range(steps):
        await progress(runtime, job_id, 10 * (i + 1))
    await finish(runtime, job_id)
    return job_id


async def test_live_events_arrive_in_id_order(runtime: Runtime, hub: Hub) -> None:
    sub = hub.subscribe(ANONYMOUS)
    a = await new_job(runtime)
    b = await new_job(runtime)
    await start_job(runtime, a)  # claims both
    await progress(runtime, b, 30)
    await progress(runtime, a, 60)
    await finish(runtime, b)
    await finish(runtime, a)
    events = await take(sub, 8)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 8
    assert ids == await stored_ids(runtime)
    assert [e["type"] for e in events if e["job_id"] == a] == ["queued", "started", "progress", "succeeded"]
    assert [e["type"] for e in events if e["job_id"] == b] == ["queued", "started", "progress", "succeeded"]
    first = events[0]
    assert set(first) == {"id", "job_id", "type", "data", "created_at"}
    assert first["data"]["status"] == "queued" and first["created_at"].endswith("Z")
    sub.close()


async def test_replay_hands_over_to_live_without_gaps_or_duplicates(runtime: Runtime, hub: Hub) -> None:
    for _ in range(3):
        await run_job(runtime)
    before = await stored_ids(runtime)
    resume_from = before[4]
    sub = hub.subscribe(ANONYMOUS, after=resume_from)

    async def writer() -> None:
        for _ in range(3):
            await run_job(runtime)

    writing = asyncio.create_task(writer())
    expected_count = len(before) - 5 + 3 * 5
    got = await take(sub, expected_count, timeout=30)
    await writing
    assert [e["id"] for e in got] == await stored_ids(runtime, after=resume_from)
    sub.close()


async def test_replay_pages_through_a_long_history(runtime: Runtime, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "PAGE", 7)
    from genloom.events import subscription

    monkeypatch.setattr(subscription, "PAGE", 7)
    for _ in range(5):
        await run_job(runtime, steps=1)
    sub = hub.subscribe(ANONYMOUS, after=0)
    got = await take(sub, 20)
    assert [e["id"] for e in got] == await stored_ids(runtime)
    sub.close()


async def test_subscribers_only_see_owners_they_may_read(runtime: Runtime, hub: Hub) -> None:
    alice_sub = hub.subscribe(ALICE)
    bob_sub = hub.subscribe(BOB)
    admin_sub = hub.subscribe(ADMIN)
    a = await new_job(runtime, ALICE)
    b = await new_job(runtime, BOB)
    # Bob asks for Alice's job by id: still nothing of hers reaches him.
    bob_snoop = hub.subscribe(BOB, job_ids={a, b})
    await start_job(runtime, a)
    await finish(runtime, a)
    await finish(runtime, b)
    assert {e["job_id"] for e in await take(alice_sub, 3)} == {a}
    assert {e["job_id"] for e in await take(bob_sub, 3)} == {b}
    assert {e["job_id"] for e in await take(admin_sub, 6)} == {a, b}
    assert {e["job_id"] for e in await take(bob_snoop, 2)} == {b}
    replay = hub.subscribe(BOB, after=0)
    assert {e["job_id"] for e in await take(replay, 3)} == {b}
    for s in (alice_sub, bob_sub, admin_sub, bob_snoop, replay):
        s.close()


async def test_add_and_remove_jobs(runtime: Runtime, hub: Hub) -> None:
    a = await new_job(runtime)
    b = await new_job(runtime)
    await caught_up(runtime, hub)
    sub = hub.subscribe(ANONYMOUS, job_ids={a})
    await start_job(runtime, a)  # starts b too
    assert [e["type"] for e in await take(sub, 1)] == ["started"]
    sub.add_jobs({b}, after=0)  # b's history first (queued, started), then live
    replayed = await take(sub, 2)
    assert [(e["job_id"], e["type"]) for e in replayed] == [(b, "queued"), (b, "started")]
    sub.remove_jobs({a})
    await progress(runtime, a, 50)
    await progress(runtime, b, 50)
    assert [(e["job_id"], e["type"]) for e in await take(sub, 1)] == [(b, "progress")]
    assert sub.job_ids == {b}
    sub.close()


async def test_slow_consumer_is_dropped_and_never_stalls_the_hub(runtime: Runtime, hub: Hub) -> None:
    runtime.settings.event_queue_size = 10
    slow = hub.subscribe(ANONYMOUS)  # never read while the events flow
    fast = hub.subscribe(ANONYMOUS)  # reads each event before the next one is written
    job_id = await new_job(runtime)
    got = await take(fast, 1)
    await start_job(runtime, job_id)
    got += await take(fast, 1)
    for pct in range(1, 30):
        await progress(runtime, job_id, pct)
        got += await take(fast, 1)
    await finish(runtime, job_id)
    got += await take(fast, 1)
    assert len(got) == 32 and [e["id"] for e in got] == await stored_ids(runtime)
    assert slow.overflowed and not fast.overflowed
    with pytest.raises(SubscriberOverflow):
        await asyncio.wait_for(slow.__anext__(), 5)
    assert hub.live and hub.subscriber_count == 1
    fast.close()
    assert hub.stats() == {"live": True, "delivered_id": got[-1]["id"], "subscribers": 0, "watched_gaps": 0}


async def test_close_ends_iteration(runtime: Runtime, hub: Hub) -> None:
    sub = hub.subscribe(ANONYMOUS)
    sub.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(sub.__anext__(), 5)


async def _raw_event(conn, job_id: str) -> int:  # type: ignore[no-untyped-def]
    row = (await conn.execute(
        insert(JobEvent.__table__).values(job_id=job_id, owner_id="public", type="log", data={"n": job_id},
                                          created_at=utc_now()).returning(JobEvent.id)
    )).first()
    return int(row.id)


async def test_gap_holds_delivery_until_the_earlier_commit(runtime: Runtime, hub: Hub) -> None:
    """PostgreSQL: id n+1 committed before id n must still be delivered after it."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits ids in order")
    sub = hub.subscribe(ANONYMOUS)
    async with runtime.db.engine.connect() as slow_conn, runtime.db.engine.connect() as fast_conn:
        slow_tx = await slow_conn.begin()
        first = await _raw_event(slow_conn, "slow")
        async with fast_conn.begin():
            second = await _raw_event(fast_conn, "fast")
        assert second > first
        runtime.signals.wake_local(events=True)
        await asyncio.sleep(0.5)  # the hub polls every 50 ms here: it has looked at the gap several times
        assert hub.delivered_id < first
        await slow_tx.commit()
    runtime.signals.wake_local(events=True)
    got = await take(sub, 2)
    assert [e["id"] for e in got] == [first, second]
    sub.close()


async def test_rolled_back_gap_is_skipped_and_late_commits_still_arrive(
    runtime: Runtime, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits ids in order")
    monkeypatch.setattr(hub_module, "GAP_WAIT_SECONDS", 0.2)
    sub = hub.subscribe(ANONYMOUS)
    # 1) a rolled-back insert leaves a permanent hole: the next event is delivered once the wait is over
    async with runtime.db.engine.connect() as conn:
        tx = await conn.begin()
        hole = await _raw_event(conn, "rolled-back")
        await tx.rollback()
    async with runtime.db.engine.begin() as conn:
        after_hole = await _raw_event(conn, "after-hole")
    runtime.signals.wake_local(events=True)
    got = await take(sub, 1)
    assert [e["id"] for e in got] == [after_hole] and after_hole > hole
    # 2) a commit slower than the wait is delivered late rather than lost
    async with runtime.db.engine.connect() as slow_conn:
        slow_tx = await slow_conn.begin()
        late = await _raw_event(slow_conn, "late")
        async with runtime.db.engine.begin() as conn:
            on_time = await _raw_event(conn, "on-time")
        runtime.signals.wake_local(events=True)
        assert [e["id"] for e in await take(sub, 1)] == [on_time]
        await slow_tx.commit()
    runtime.signals.wake_local(events=True)
    assert [e["id"] for e in await take(sub, 1)] == [late]
    sub.close()


async def test_hub_starts_at_the_newest_event_and_replay_covers_earlier(runtime: Runtime) -> None:
    from genloom.assembly import start_hub, stop_hub

    old = await run_job(runtime, steps=0)
    await start_hub(runtime)
    try:
        hub: Hub = runtime.hub
        assert hub.delivered_id == (await stored_ids(runtime))[-1]
        live = hub.subscribe(ANONYMOUS)
        replay = hub.subscribe(ANONYMOUS, job_ids={old}, after=0)
        assert [e["type"] for e in await take(replay, 3)] == ["queued", "started", "succeeded"]
        fresh = await new_job(runtime)
        assert [e["job_id"] for e in await take(live, 1)] == [fresh]
        live.close()
        replay.close()
    finally:
        await stop_hub(runtime)


async def test_hub_starts_without_its_database_and_refuses_subscribers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from genloom.assembly import build_runtime
    from genloom.core.errors import Unavailable
    from tests.conftest import make_settings

    rt = build_runtime(make_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
                                     data_dir=tmp_path, db_pool_timeout=1))
    hub = Hub(rt.settings, rt.db, rt.signals)
    try:
        await hub.start()  # does not raise: the app must come up and answer 503s
        assert not hub.positioned and not hub.live
        with pytest.raises(Unavailable):
            hub.subscribe(ANONYMOUS)
    finally:
        await hub.close()
        await rt.close()
