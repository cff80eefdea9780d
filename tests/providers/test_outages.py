"""Provider outages are survived: jobs wait for a provider that is down instead of failing, without using up
attempts, for at most the outage window; health probes show the outage before any job meets it.

The two scenarios seen against real servers run at full length: the ComfyUI server stopped for 10 s in the
middle of a run (restarted with an empty memory, as ComfyUI is) and DashScope answering 503 to everything for
20 s. Only the knobs that decide how soon a job notices recovery are shortened (breaker cool-down 1 s, probes
every 0.5 s instead of 30 s); the outage window keeps its 15-minute default there, and a test of its own
shrinks it to see a job give up."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.jobs.models import JobEvent
from genloom.jobs.worker import Worker
from genloom.providers.base import ProviderUnavailable
from genloom.providers.breaker import BreakerState, CircuitBreaker
from genloom.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes import comfyui as comfy_fake
from tests.fakes import comfyui_server
from tests.fakes import dashscope as dashscope_fake
from tests.fakes.base import FakeServer
from tests.providers.conftest import DASHSCOPE_KEY, FAST
from tests.providers.jobrun import create, get

#: how soon recovery is noticed (the outage itself is not shortened); a generous read timeout, so that a loaded
#: test machine's slow answer is not taken for a failure of the job's own
RECOVERY = {"breaker_cooldown_seconds": 1.0, "provider_probe_interval_seconds": 0.5, "provider_probes": True,
            "provider_read_timeout": 30.0}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestBreaker:
    def test_trip_opens_and_a_probe_answer_ends_the_cooldown(self) -> None:
        clock = _Clock()
        breaker = CircuitBreaker("comfyui", failures=5, cooldown=30, clock=clock)
        breaker.trip("probe_unreachable")
        assert breaker.state == BreakerState.open and breaker.opened_count == 1
        with pytest.raises(ProviderUnavailable) as info:
            breaker.acquire()
        assert info.value.outage and info.value.retry_after == 30  # the next trial call, not a guess
        breaker.end_cooldown()
        assert breaker.acquire() is True  # the trial call goes at once
        # while the trial call is out, others come back soon rather than after a whole cool-down
        with pytest.raises(ProviderUnavailable) as info:
            breaker.acquire()
        assert info.value.retry_after == 2.0

    def test_end_cooldown_leaves_a_closed_breaker_closed(self) -> None:
        breaker = CircuitBreaker("x", failures=1, cooldown=30, clock=_Clock())
        breaker.end_cooldown()
        assert breaker.state == BreakerState.closed and breaker.acquire() is False


@asynccontextmanager
async def _running(runtime: Runtime, *, concurrency: int = 2) -> AsyncIterator[None]:
    """A worker and the provider probes running in the background, as in ``genloom worker``."""
    stop = asyncio.Event()
    worker = Worker(runtime, concurrency=concurrency, name="outage-test")
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(runtime.probes.run(stop))]
    try:
        yield
    finally:
        stop.set()
        await worker.shutdown(5)
        await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def _runtime(base: Any, **overrides: Any) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url=base.database_url, data_dir=base.data_dir, media_dir=base.media_dir,
                             retry_base_seconds=0.0, poll_interval_seconds=0.05, event_poll_seconds=0.05,
                             **{**FAST, **RECOVERY, **overrides})
    rt = build_runtime(settings)
    await start_runtime(rt, migrate=False)
    try:
        yield rt
    finally:
        await rt.close()


async def _until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _statuses(runtime: Runtime, ids: list[str]) -> list[str]:
    return [(await get(runtime, job_id))["status"] for job_id in ids]


async def _waits(runtime: Runtime, ids: list[str]) -> int:
    """How many times these jobs were put back to wait for their provider."""
    async with runtime.db.read_session() as session:
        rows = (await session.execute(select(JobEvent.data).where(JobEvent.job_id.in_(ids),
                                                                  JobEvent.type == "retrying"))).scalars().all()
    return sum(1 for data in rows if data.get("reason") == "provider_unavailable")


async def _history(runtime: Runtime, ids: list[str]) -> list[list[tuple[str, Any, Any]]]:
    """Each job's events as (type, error code or cause, reason): what an assertion message needs."""
    out = []
    async with runtime.db.read_session() as session:
        for job_id in ids:
            rows = (await session.execute(select(JobEvent.type, JobEvent.data).where(JobEvent.job_id == job_id)
                                          .order_by(JobEvent.id))).all()
            out.append([(t, (d.get("error") or {}).get("cause") or (d.get("error") or {}).get("code"), d.get("reason"))
                        for t, d in rows if t not in ("progress", "phase")])
    return out


async def _health(runtime: Runtime) -> dict[str, Any]:
    app = create_app(runtime=runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            health = (await client.get("/health")).json()
            providers = (await client.get("/v1/providers")).json()
    return {"health": health, "providers": providers}


@pytest.fixture
def comfy_port() -> int:
    """A free local port: each test starts (and restarts) its ComfyUI on it, or leaves it closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_comfyui_stopped_for_10s_mid_run_every_job_succeeds(settings: Any, comfy_port: int) -> None:
    state = comfy_fake.ComfyFake(step_seconds=0.05)  # 20 sampler steps: about a second per image
    server = FakeServer(comfyui_server.create_app(state), port=comfy_port).start()
    url = server.url
    try:
        async with _runtime(settings, image_provider="comfyui", image_model="sd15", comfyui_url=url) as rt:
            ids = [await create(rt, prompt=f"lighthouse {i}", width=64, height=64, seed=i) for i in range(4)]
            async with _running(rt):
                await _until(lambda: _running_on(state), 20, "a prompt running on ComfyUI")
                await asyncio.to_thread(server.stop)  # killed mid-run: sockets drop, the port refuses connections
                outage_began = time.monotonic()

                async def seen_down() -> bool:
                    return rt.probes.reachable("comfyui") is False

                await _until(seen_down, 5, "the probe to notice")
                seen = await _health(rt)
                assert seen["health"]["providers"]["comfyui"]["reachable"] is False
                assert seen["health"]["providers"]["comfyui"]["error"] == "connect_failed"
                assert seen["health"]["status"] == "ok"  # a provider outage is not the process's health
                assert seen["providers"]["capabilities"]["image"]["reachable"] is False
                await asyncio.sleep(max(0.0, 10 - (time.monotonic() - outage_began)))
                assert "failed" not in await _statuses(rt, ids), [(await get(rt, i))["error"] for i in ids]
                # restarted: a new process with an empty queue and history, on the same port
                state = comfy_fake.ComfyFake(step_seconds=0.01)
                server = await asyncio.to_thread(FakeServer(comfyui_server.create_app(state), port=comfy_port).start)

                async def all_done() -> bool:
                    return all(s in ("succeeded", "failed") for s in await _statuses(rt, ids))

                await _until(all_done, 60, "every job to finish after the restart")
            jobs = [await get(rt, job_id) for job_id in ids]
            assert [j["status"] for j in jobs] == ["succeeded"] * len(ids), [j["error"] for j in jobs]
            # waiting used up no attempt
            assert [j["attempts"] for j in jobs] == [1] * len(ids), await _history(rt, ids)
            assert await _waits(rt, ids) >= len(ids) - 1  # the jobs did wait for the provider
            assert rt.probes.reachable("comfyui") is True
    finally:
        await asyncio.to_thread(server.stop)


async def _running_on(state: comfy_fake.ComfyFake) -> bool:
    return state.running is not None


async def test_dashscope_503_for_20s_every_job_succeeds(settings: Any) -> None:
    fake = dashscope_fake.DashScopeFake(api_key=DASHSCOPE_KEY)
    with FakeServer(dashscope_fake.create_app(fake)) as server:
        async with _runtime(settings, image_provider="zimage", dashscope_api_key=DASHSCOPE_KEY,
                            dashscope_base_url=server.url) as rt:
            fake.fail_for(20, 503)  # every request, probes included
            began = time.monotonic()
            ids = [await create(rt, prompt=f"kite {i}", width=512, height=512, seed=i, polish=False) for i in range(3)]
            async with _running(rt):
                async def seen_down() -> bool:
                    return rt.probes.reachable("dashscope") is False

                await _until(seen_down, 5, "the probe to notice")
                seen = await _health(rt)
                assert seen["health"]["providers"]["dashscope"] == {**seen["health"]["providers"]["dashscope"],
                                                                     "reachable": False, "status": 503,
                                                                     "error": "http_5xx"}
                await asyncio.sleep(max(0.0, 15 - (time.monotonic() - began)))
                assert "failed" not in await _statuses(rt, ids)
                assert "succeeded" not in await _statuses(rt, ids)  # nothing got through the outage

                async def all_done() -> bool:
                    return all(s in ("succeeded", "failed") for s in await _statuses(rt, ids))

                await _until(all_done, 45, "every job to finish after the outage")
            jobs = [await get(rt, job_id) for job_id in ids]
            assert [j["status"] for j in jobs] == ["succeeded"] * len(ids), [j["error"] for j in jobs]
            assert [j["attempts"] for j in jobs] == [1] * len(ids)
            assert await _waits(rt, ids) >= len(ids)
            assert time.monotonic() - began >= 20  # they really waited the outage out
            assert rt.probes.reachable("dashscope") is True


async def test_a_job_gives_up_after_the_outage_window(settings: Any, comfy_port: int) -> None:
    url = f"http://127.0.0.1:{comfy_port}"  # nothing listens: ComfyUI is down the whole time
    async with _runtime(settings, image_provider="comfyui", image_model="sd15", comfyui_url=url,
                        provider_outage_window_seconds=2.0) as rt:
        job_id = await create(rt, prompt="p", width=64, height=64)
        async with _running(rt, concurrency=1):
            async def finished() -> bool:
                return (await get(rt, job_id))["status"] in ("succeeded", "failed")

            await _until(finished, 30, "the job to give up")
        job = await get(rt, job_id)
        assert job["status"] == "failed" and job["attempts"] == 1
        assert job["error"]["code"] == "provider_unavailable" and not job["error"]["retryable"]
        assert "outage window" in job["error"]["message"]
        # each wait was scheduled at the breaker's next trial call or later, never inside its cool-down
        async with rt.db.read_session() as session:
            waits = [d for d in (await session.execute(select(JobEvent.data).where(
                JobEvent.job_id == job_id, JobEvent.type == "retrying"))).scalars().all()]
        opened = [w for w in waits if w["error"]["cause"] == "provider_unavailable"]
        assert opened and all(w["retry_in"] > 0.05 for w in opened)


async def test_start_up_probe_warns_and_is_never_fatal(settings: Any, comfy_port: int,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="genloom.providers.probe")
    url = f"http://127.0.0.1:{comfy_port}"
    async with _runtime(settings, image_provider="comfyui", image_model="sd15", comfyui_url=url) as rt:
        app = create_app(runtime=rt, workers=0)
        async with app.router.lifespan_context(app):  # starts, although ComfyUI is down

            async def probed() -> bool:
                return rt.probes.reachable("comfyui") is False

            await _until(probed, 5, "the start-up probe")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                body = (await client.get("/v1/providers")).json()
            assert body["capabilities"]["image"]["reachable"] is False
            # the probe found the port closed: the breaker is open before any job has tried
            assert body["health"]["comfyui"]["breaker"]["state"] == "open"
            assert body["health"]["comfyui"]["probe"]["error"] == "connect_failed"
        lines = [r.getMessage() for r in caplog.records]
        assert any("provider=comfyui probe=unreachable" in line for line in lines)
