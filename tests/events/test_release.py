"""A closed subscriber is freed as soon as its last reference goes, not by the cyclic garbage collector.

With 10,000 WebSockets open a full collection takes seconds; a connection kept alive by a reference cycle
(a finished task → its exception → traceback → the frame that holds the task) also keeps its protocol objects
and buffers until then. These tests run the WebSocket writer's shutdown with the collector switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator

import pytest

from genloom.core.principal import ANONYMOUS
from genloom.events.hub import Hub, Subscription, with_heartbeats
from genloom.runtime import Runtime

from .conftest import finish, new_job, start_job


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _writer(sub: Subscription, seen: list[object]) -> None:
    # What the WebSocket writer does: events and heartbeats until the subscription ends.
    async for event in with_heartbeats(sub, 0.02):
        seen.append(event)


async def _run_and_close(hub: Hub, job_id: str, *, cancel: bool) -> weakref.ref[Subscription]:
    sub = hub.subscribe(ANONYMOUS, job_ids={job_id})
    seen: list[object] = []
    writer = asyncio.create_task(_writer(sub, seen))
    while None not in seen:  # at least one heartbeat went by
        await asyncio.sleep(0.01)
    sub.close()
    if cancel:
        writer.cancel()  # as the endpoint does when the client goes away
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    ref = weakref.ref(sub)
    del sub, writer
    await asyncio.sleep(0.05)  # let the cancelled read finish
    return ref


@pytest.mark.parametrize("cancel", [True, False], ids=["closed-and-cancelled", "closed-ends-iteration"])
async def test_closed_subscription_is_freed_without_the_garbage_collector(runtime: Runtime, hub: Hub, cancel: bool) -> None:
    job_id = await new_job(runtime)
    with no_cyclic_gc():
        ref = await _run_and_close(hub, job_id, cancel=cancel)
        assert ref() is None, "a reference cycle keeps the closed subscription alive"
    assert hub.subscriber_count == 0


async def test_events_still_arrive_and_end_cleanly(runtime: Runtime, hub: Hub) -> None:
    job_id = await new_job(runtime)
    sub = hub.subscribe(ANONYMOUS, job_ids={job_id})
    seen: list[object] = []
    writer = asyncio.create_task(_writer(sub, seen))
    await start_job(runtime, job_id)
    await finish(runtime, job_id)
    async with asyncio.timeout(10):
        while not any(isinstance(e, dict) and e["type"] == "succeeded" for e in seen):
            await asyncio.sleep(0.01)
    sub.close()
    async with asyncio.timeout(10):
        await writer  # ends by itself once the subscription is closed
    types = [e["type"] for e in seen if isinstance(e, dict)]
    assert types[-2:] == ["started", "succeeded"]  # "queued" too, if the hub had not passed it yet
