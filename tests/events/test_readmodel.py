"""The status read model: cached snapshots, invalidated by hub events, never stale after a change is seen."""

from __future__ import annotations

import asyncio

import httpx

from genloom.assembly import build_runtime, start_hub, start_runtime, stop_hub
from genloom.core.principal import ANONYMOUS
from genloom.events.hub import Hub
from genloom.events.readmodel import JobCache
from genloom.jobs import queue
from genloom.runtime import Runtime
from tests.events.conftest import WORKER, caught_up, finish, new_job, start_job


def cache_of(runtime: Runtime) -> JobCache:
    cache: JobCache = runtime.reads.cache
    return cache


async def test_hits_after_a_miss_and_reads_its_own_writes(runtime: Runtime, hub: Hub) -> None:
    job_id = await new_job(runtime)
    await caught_up(runtime, hub)
    cache = cache_of(runtime)
    first = await runtime.reads.get_job_row(job_id)
    assert first is not None and first["status"] == "queued" and first["owner_id"] == ANONYMOUS.owner_id
    hits = cache.hits
    again = await runtime.reads.get_job_row(job_id)
    assert again == first and cache.hits == hits + 1
    again["status"] = "mutated by the caller"  # callers get copies
    assert (await runtime.reads.get_job_row(job_id))["status"] == "queued"  # type: ignore[index]
    # A change committed in this process is visible at once, before the hub has tailed its event.
    await start_job(runtime, job_id)
    assert (await runtime.reads.get_job_row(job_id))["status"] == "running"  # type: ignore[index]
    await caught_up(runtime, hub)
    assert (await runtime.reads.get_job_row(job_id))["status"] == "running"  # type: ignore[index]
    await finish(runtime, job_id)
    row = await runtime.reads.get_job_row(job_id)
    assert row is not None and row["status"] == "succeeded" and row["result"] == {"ok": True}
    assert await runtime.reads.get_job_row("no-such-job") is None


async def test_changes_from_another_process_evict_the_entry(runtime: Runtime, hub: Hub) -> None:
    """A second runtime plays a separate worker process: its commits reach us only through the database."""
    job_id = await new_job(runtime)
    await caught_up(runtime, hub)
    assert (await runtime.reads.get_job_row(job_id))["status"] == "queued"  # type: ignore[index]
    assert job_id in cache_of(runtime)._rows
    other = build_runtime(runtime.settings)
    await start_runtime(other, migrate=False)
    try:
        claimed = await queue.claim(other, WORKER, limit=10, kinds=["noop"])
        assert [c.id for c in claimed] == [job_id]
        newest = await caught_up(runtime, hub)
        assert newest == hub.delivered_id
        # Once the hub has delivered the event, the old snapshot can never be served again.
        assert job_id not in cache_of(runtime)._rows
        assert (await runtime.reads.get_job_row(job_id))["status"] == "running"  # type: ignore[index]
        assert await queue.complete(other, job_id, WORKER, {"done": 1})
        await caught_up(runtime, hub)
        row = await runtime.reads.get_job_row(job_id)
        assert row is not None and row["status"] == "succeeded" and row["result"] == {"done": 1}
    finally:
        await other.close()


async def test_miss_is_not_cached_when_its_job_changed_during_the_load() -> None:
    cache = JobCache(100)
    version = cache.version
    cache.on_events([{"job_id": "other"}])
    assert not cache.changed_since("mine", version)
    cache.on_events([{"job_id": "mine"}])
    assert cache.changed_since("mine", version)
    later = cache.version
    assert not cache.changed_since("mine", later)
    cache.put("mine", {"id": "mine"})
    cache.on_reset()  # a skipped gap or a lost stream: forget everything, distrust loads in flight
    assert cache.get("mine") is None and cache.changed_since("anything", later)


async def test_cache_is_bounded(runtime: Runtime) -> None:
    runtime.reads.cache.size = 5  # built from settings.read_cache_size when the runtime was
    await start_hub(runtime)
    try:
        hub: Hub = runtime.hub
        ids = [await new_job(runtime) for _ in range(12)]
        await caught_up(runtime, hub)
        for job_id in ids:
            assert (await runtime.reads.get_job_row(job_id))["id"] == job_id  # type: ignore[index]
        assert len(cache_of(runtime)) == 5
        assert set(cache_of(runtime)._rows) == set(ids[-5:])
    finally:
        await stop_hub(runtime)


async def test_reads_through_when_no_hub_runs(runtime: Runtime) -> None:
    job_id = await new_job(runtime)
    assert not runtime.hub.running
    assert (await runtime.reads.get_job_row(job_id))["status"] == "queued"  # type: ignore[index]
    await start_job(runtime, job_id)
    assert (await runtime.reads.get_job_row(job_id))["status"] == "running"  # type: ignore[index]


async def test_lost_stream_reads_through(runtime: Runtime, hub: Hub) -> None:
    job_id = await new_job(runtime)
    await caught_up(runtime, hub)
    await runtime.reads.get_job_row(job_id)
    assert len(cache_of(runtime)) == 1
    hub._set_lost()  # what the hub does when a tail read fails
    assert len(cache_of(runtime)) == 0
    # While it is down nothing is cached; it comes back on its next successful read.
    for _ in range(3):
        await runtime.reads.get_job_row(job_id)
    runtime.signals.wake_local(events=True)
    for _ in range(500):
        if hub.live:
            break
        await asyncio.sleep(0.01)
    assert hub.live


async def test_status_route_follows_the_job(client: httpx.AsyncClient, runtime: Runtime) -> None:
    created = (await client.post("/v1/jobs", json={"kind": "noop", "input": {"x": 1}})).json()
    job_id = created["id"]
    await caught_up(runtime, runtime.hub)
    for _ in range(3):
        assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "queued"
    await start_job(runtime, job_id)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "running"
    await finish(runtime, job_id)
    body = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert body["status"] == "succeeded" and body["result"] == {"ok": True}
    assert cache_of(runtime).hits >= 2
