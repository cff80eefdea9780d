"""Shared pieces of the event tests: a started hub, and jobs that move through the real queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from genloom.assembly import start_hub, stop_hub
from genloom.core.principal import ANONYMOUS, Principal
from genloom.events.hub import Hub, Subscription
from genloom.jobs import queue, service
from genloom.runtime import Runtime

WORKER = "test-worker"


@pytest.fixture
async def hub(runtime: Runtime) -> AsyncIterator[Hub]:
    """The process hub (and read model), started the way the app starts it."""
    await start_hub(runtime)
    try:
        yield runtime.hub
    finally:
        await stop_hub(runtime)


async def new_job(runtime: Runtime, principal: Principal = ANONYMOUS, **input: Any) -> str:
    async with runtime.db.session() as s:
        job = await service.create_job(s, runtime, principal, kind="noop", input=input)
    return str(job["id"])


async def start_job(runtime: Runtime, job_id: str) -> None:
    """Claim jobs until ``job_id`` is running under WORKER."""
    claimed = await queue.claim(runtime, WORKER, limit=100, kinds=["noop"])
    assert job_id in {c.id for c in claimed}


async def progress(runtime: Runtime, job_id: str, pct: int) -> None:
    held, _ = await queue.report(runtime, job_id, WORKER, pct, None)
    assert held


async def finish(runtime: Runtime, job_id: str) -> None:
    assert await queue.complete(runtime, job_id, WORKER, {"ok": True})


async def take(sub: Subscription, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``n`` events of ``sub`` (fails the test if they do not come in time)."""
    import asyncio

    out: list[dict[str, Any]] = []

    async def _collect() -> None:
        async for event in sub:
            out.append(event)
            if len(out) == n:
                return

    await asyncio.wait_for(_collect(), timeout)
    return out


async def caught_up(runtime: Runtime, hub: Hub, timeout: float = 10.0) -> int:
    """Wait until the hub has delivered every event stored so far and taken in every wake-up; returns that id."""
    import asyncio

    from sqlalchemy import func, select

    from genloom.jobs.models import JobEvent

    async with runtime.db.reader.connect() as conn:
        newest = int((await conn.execute(select(func.max(JobEvent.id)))).scalar() or 0)
    runtime.signals.wake_local(events=True)

    async def _wait() -> None:
        while hub.delivered_id < newest or hub.caught_up_seq != runtime.signals.events_seq:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_wait(), timeout)
    return newest
