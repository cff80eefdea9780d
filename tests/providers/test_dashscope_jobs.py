"""DashScope through the real job queue: ``image.generate`` refines the prompt with Qwen, draws with Z-Image or
Wan, and stores the result; faults end the way the queue promises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.storage.mime import sniff_mime
from tests.conftest import drain
from tests.fakes.dashscope import render_png
from tests.providers.conftest import DASHSCOPE_KEY, Fake
from tests.providers.jobrun import create, event_types, get, running_events, stored_images, wait_for_request


def ds_settings(fake: Fake, **kw: Any) -> dict[str, Any]:
    return {"text_provider": "qwen", "image_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
            "dashscope_base_url": fake.url, **kw}


async def test_zimage_job_stores_media(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope)) as rt:
        job_id = await create(rt, prompt="一只橘猫", width=512, height=512, seed=11)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "succeeded", job["error"]
        result = job["result"]
        assert result["provider"] == "dashscope" and result["model"] == "z-image-turbo"
        assert result["prompt"]["final"] == "refined: 一只橘猫"
        [stored] = await stored_images(rt, job)
        assert stored == render_png("refined: 一只橘猫", 512, 512)
        image = result["images"][0]
        assert image["thumbnail_url"] and (image["width"], image["height"]) == (512, 512)
        assert "oss" not in str(result)  # provider URLs never reach clients
        sent = dashscope.state.seen("POST", "/multimodal-generation/generation")[0].json()
        assert sent["input"]["messages"][0]["content"][0]["text"] == "refined: 一只橘猫"


async def test_wan_job_stores_media(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope, image_provider="wan")) as rt:
        job_id = await create(rt, prompt="花店", width=768, height=768, count=2)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "succeeded", job["error"]
        assert job["result"]["model"] == "wan2.2-t2i-flash"
        images = await stored_images(rt, job)
        assert len(images) == 2 and all(sniff_mime(b[:64]) == "image/png" for b in images)
        # The task poll reports rising progress while DashScope works (as "phase" events when the task's status
        # changes, "progress" ones in between: how many of each depends on how fast the polls come round).
        polled = [e for e in await running_events(rt, job_id) if e["phase"].endswith((": pending", ": running"))]
        assert polled and all(0 < e["progress"] < 100 for e in polled)
        assert [e["progress"] for e in polled] == sorted(e["progress"] for e in polled)


async def test_rate_limited_then_succeeds_within_one_attempt(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope)) as rt:
        dashscope.state.fail(429, retry_after=0.05, times=2, path="/generation")
        job_id = await create(rt, prompt="p", width=512, height=512)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "succeeded" and job["attempts"] == 1
        assert len(dashscope.state.seen("POST", "/generation")) == 3


async def test_persistent_5xx_goes_back_to_the_queue_then_succeeds(open_runtime: Callable[..., Any],
                                                                    dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope, provider_max_retries=1)) as rt:
        # both in-call attempts of the first job attempt; a 500 may be this request's doing, so it uses an attempt
        # (a 503 is an outage instead: the job waits without using one, see test_outages.py)
        dashscope.state.fail(500, times=2, path="/generation")
        job_id = await create(rt, prompt="p", width=512, height=512)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "succeeded" and job["attempts"] == 2
        assert "retrying" in await event_types(rt, job_id)


async def test_task_failed_fails_the_job_with_the_reason(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope, image_provider="wan")) as rt:
        dashscope.state.fail_next_task("DataInspectionFailed", "Output data may contain inappropriate content.")
        job_id = await create(rt, prompt="p", width=768, height=768)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "failed" and job["attempts"] == 1
        assert job["error"]["code"] == "content_policy" and job["error"]["retryable"] is False
        assert "DataInspectionFailed: Output data may contain inappropriate content." in job["error"]["message"]


async def test_bad_request_fails_at_once(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope)) as rt:
        job_id = await create(rt, prompt="p", width=256, height=256)  # below Z-Image's 512*512 minimum
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "failed" and job["attempts"] == 1
        assert job["error"]["code"] == "provider_bad_request"
        assert "out of range" in job["error"]["message"]


async def test_expired_result_url_fails_the_job(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    async with open_runtime(**ds_settings(dashscope)) as rt:
        dashscope.state.expire_results = True
        job_id = await create(rt, prompt="p", width=512, height=512)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "result_expired"


async def test_circuit_opens_then_closes_after_cooldown(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    settings = ds_settings(dashscope, provider_max_retries=1, breaker_failures=2, breaker_cooldown_seconds=0.5,
                           job_max_attempts=5)
    async with open_runtime(**settings) as rt:
        dashscope.state.fail(500, times=2, path="/generation")
        job_id = await create(rt, prompt="p", width=512, height=512)
        await drain(rt)
        breaker = rt.providers.health["dashscope"].status()["breaker"]
        job = await get(rt, job_id)
        if job["status"] != "succeeded":  # the retry landed inside the cool-down: rejected, rescheduled
            assert breaker["state"] == "open" and breaker["opened_count"] == 1
            assert job["status"] == "queued" and job["error"]["code"] == "provider_unavailable"
            await asyncio.sleep(0.6)
            await drain(rt)
            job = await get(rt, job_id)
        assert job["status"] == "succeeded"
        status = rt.providers.health["dashscope"].status()["breaker"]
        assert status["state"] == "closed" and status["opened_count"] == 1


@pytest.mark.parametrize("cancel_answer_seconds", [0.0, 2.0], ids=["prompt", "slow"])
async def test_cancel_reaches_the_wan_task(open_runtime: Callable[..., Any], dashscope: Fake,
                                           cancel_answer_seconds: float) -> None:
    # "slow": DashScope (or a loaded machine) takes longer to answer the cancel than the worker's cancel poll
    # (1 s) takes to come round, so the job's task is cancelled again while the cancel is in flight. The job
    # may only end once DashScope has the cancel (it once ended first, and the cancel was lost).
    dashscope.state.pending_seconds = 120
    if cancel_answer_seconds:
        dashscope.state.slow(cancel_answer_seconds, path="/cancel", method="POST")
    async with open_runtime(**ds_settings(dashscope, image_provider="wan")) as rt:
        job_id = await create(rt, prompt="p", width=768, height=768)
        worker = asyncio.create_task(drain(rt))
        await wait_for_request(dashscope.state, "GET", "/api/v1/tasks/", timeout=60)
        async with rt.db.session() as s:
            await service.cancel_job(s, rt, ANONYMOUS, job_id)
        await asyncio.wait_for(worker, 30)
        job = await get(rt, job_id)
        assert job["status"] == "canceled"
        [task] = dashscope.state.tasks.values()
        assert task.canceled and dashscope.state.seen("POST", f"/tasks/{task.id}/cancel")


async def test_job_logs_hold_no_key_and_no_prompt(open_runtime: Callable[..., Any], dashscope: Fake,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    # everything at INFO (the database driver's DEBUG lines echo SQL parameters by design), genloom at DEBUG
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="genloom")
    async with open_runtime(**ds_settings(dashscope, image_provider="wan")) as rt:
        dashscope.state.fail(429, retry_after=0, path="/image-synthesis")
        job_id = await create(rt, prompt="secret family recipe for zongzi", width=768, height=768)
        await drain(rt)
        assert (await get(rt, job_id))["status"] == "succeeded"
    provider_lines = [r for r in caplog.records if r.name == "genloom.providers"]
    assert {r.operation for r in provider_lines} >= {"text.complete", "image.submit", "image.task.poll",  # type: ignore[attr-defined]
                                                     "image.download"}
    everything = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert DASHSCOPE_KEY not in everything
    assert "zongzi" not in everything
