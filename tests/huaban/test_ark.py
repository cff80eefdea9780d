"""The generation flow with the remote providers, against the fake servers over real sockets: speech
recognition on the OpenAI fake, Doubao chat, Seedance image-to-video and Doubao vision on the Ark fake.

Faults (PROVIDERS.md): ASR failure, Doubao content moderation, a Seedance task that ends ``failed``, an expired
result URL, the provider's polls failing until the job gives up — each fails the job with the provider's reason,
and retry (or capture) resumes from the unfinished phase without paying twice for a finished one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import drain
from tests.fakes.ark import ArkFake, sample_mp4
from tests.fakes.ark import create_app as ark_app
from tests.fakes.base import FakeServer
from tests.fakes.openai import OpenAIFake
from tests.fakes.openai import create_app as openai_app
from tests.huaban.conftest import CLIENT_A, Huaban, drawing_png
from tests.providers.remote import FAST

ARK_KEY = "ark-secret-key-7777"
OPENAI_KEY = "sk-openai-secret-5555"
STORY = {"story": "小猫坐上彩虹，飞到了月亮上，和星星一起唱歌。", "videoPrompt": "a cat rides a rainbow up to the moon"}


@pytest.fixture
def ark() -> Iterator[tuple[ArkFake, str]]:
    state = ArkFake(api_key=ARK_KEY, queued_seconds=0.05, running_seconds=0.1)
    state.chat_answer = json.dumps(STORY, ensure_ascii=False)
    with FakeServer(ark_app(state)) as server:
        yield state, server.url


@pytest.fixture
def openai() -> Iterator[tuple[OpenAIFake, str]]:
    state = OpenAIFake(api_key=OPENAI_KEY, transcript="小猫坐着彩虹飞到了月亮上")
    with FakeServer(openai_app(state)) as server:
        yield state, server.url


@pytest.fixture
def remote_app(huaban_runtime: Callable[..., Any], live_server: Any, ark: tuple[ArkFake, str],
               openai: tuple[OpenAIFake, str]) -> Callable[..., Any]:
    @asynccontextmanager
    async def opened(**overrides: Any) -> AsyncIterator[tuple[Any, Huaban]]:
        settings = {**FAST, "text_provider": "ark", "video_provider": "ark", "vision_provider": "ark",
                    "asr_provider": "openai", "ark_base_url": f"{ark[1]}/api/v3", "ark_api_key": ARK_KEY,
                    "openai_base_url": f"{openai[1]}/v1", "openai_api_key": OPENAI_KEY,
                    "breaker_failures": 1000, "provider_outage_window_seconds": 1.0, **overrides}
        async with huaban_runtime(**settings) as rt, live_server(rt=rt) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                yield rt, Huaban(http, CLIENT_A)

    return opened


async def _start(app: Huaban, artwork_id: str) -> str:
    started = await app.call("POST", "/generation/jobs", json={"artworkId": artwork_id})
    assert started.status_code == 202, started.text
    return str(started.json()["jobId"])


async def _job(app: Huaban, job_id: str) -> dict[str, Any]:
    return dict((await app.call("GET", f"/generation/jobs/{job_id}")).json())


def _story_chats(ark: ArkFake) -> int:
    return len([r for r in ark.seen("POST", "/chat/completions") if b"image_url" not in r.body])


def _creates(ark: ArkFake) -> int:
    return len([r for r in ark.seen("POST", "/contents/generations/tasks")])


async def test_remote_flow(remote_app: Callable[..., Any], ark: tuple[ArkFake, str],
                           openai: tuple[OpenAIFake, str]) -> None:
    async with remote_app() as (rt, app):
        art = await app.artwork(transcript=None)
        job_id = await _start(app, art["id"])
        await drain(rt)
        await drain(rt)
        job = await _job(app, job_id)
        assert job["status"] == "completed", job
        assert job["transcript"] == "小猫坐着彩虹飞到了月亮上" and job["story"] == STORY["story"]
        # the recording went to speech recognition, the drawing to Seedance as its first frame
        assert len(openai[0].seen("POST", "/audio/transcriptions")) == 1
        [task_id] = list(ark[0].first_frames)
        assert ark[0].first_frames[task_id] == drawing_png()
        text = ark[0].tasks[task_id].body["content"][0]["text"]
        assert text.startswith(STORY["videoPrompt"]) and "--ratio adaptive" in text
        async with httpx.AsyncClient() as raw:
            clip = await raw.get(job["videoUrl"] if job["videoUrl"].startswith("http")
                                 else str(app.http.base_url).rstrip("/") + job["videoUrl"])
        assert clip.content == sample_mp4()  # stored byte for byte
        detail = (await app.call("GET", f"/artworks/{art['id']}")).json()
        assert detail["transcriptSource"] == "asr" and detail["transcript"] == "小猫坐着彩虹飞到了月亮上"
        analysis = (await app.call("GET", f"/ai/analyses/{art['id']}")).json()
        assert analysis["status"] == "completed" and analysis["provider"] == "ark"
        assert analysis["summary"] and set(analysis["abilities"]) >= {"color", "storytelling"}


async def test_asr_failure_then_retry(remote_app: Callable[..., Any], openai: tuple[OpenAIFake, str]) -> None:
    async with remote_app() as (rt, app):
        art = await app.artwork(transcript=None)
        openai[0].fail(400, code="invalid_value", message="Audio file might be corrupted or unsupported",
                       path="/audio/transcriptions")
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        assert (job["status"], job["phase"]) == ("failed", "failed")
        assert job["error"]["code"] == "provider_bad_request" and "corrupted" in job["error"]["message"]
        assert OPENAI_KEY not in json.dumps(job)
        retried = await app.call("POST", f"/generation/jobs/{job_id}/retry")
        assert retried.status_code == 202
        await drain(rt)
        assert (await _job(app, job_id))["status"] == "completed"


async def test_moderation_rejection_resumes_without_a_second_transcription(
        remote_app: Callable[..., Any], ark: tuple[ArkFake, str], openai: tuple[OpenAIFake, str]) -> None:
    async with remote_app() as (rt, app):
        art = await app.artwork(transcript=None)
        ark[0].reject_content = True
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "content_policy"
        assert "SensitiveContent" in job["error"]["message"]
        assert job["transcript"] == "小猫坐着彩虹飞到了月亮上"  # the finished phase is kept
        not_failed = await app.call("POST", f"/generation/jobs/{job_id}/retry")
        assert not_failed.status_code == 202
        ark[0].reject_content = True  # still rejected: the retry fails again at the same phase
        await drain(rt)
        ark[0].reject_content = False
        assert (await app.call("POST", f"/generation/jobs/{job_id}/retry")).status_code == 202
        await drain(rt)
        assert (await _job(app, job_id))["status"] == "completed"
        assert len(openai[0].seen("POST", "/audio/transcriptions")) == 1  # never paid for twice


async def test_seedance_task_failed_then_retry_submits_a_new_task(
        remote_app: Callable[..., Any], ark: tuple[ArkFake, str]) -> None:
    async with remote_app() as (rt, app):
        art = await app.artwork()
        ark[0].fail_next_task()
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "content_policy"
        assert "OutputVideoSensitiveContentDetected" in job["error"]["message"]
        chats = _story_chats(ark[0])
        again = await app.call("POST", f"/generation/jobs/{job_id}/retry")
        assert again.status_code == 202
        await drain(rt)
        assert (await _job(app, job_id))["status"] == "completed"
        assert _creates(ark[0]) == 2
        assert _story_chats(ark[0]) == chats == 1  # the story was not written again


async def test_expired_result_url(remote_app: Callable[..., Any], ark: tuple[ArkFake, str]) -> None:
    async with remote_app() as (rt, app):
        art = await app.artwork()
        ark[0].expire_results = True
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "result_expired"
        nothing = await app.call("POST", f"/generation/jobs/{job_id}/capture", json={})
        assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_capture"
        ark[0].expire_results = False
        assert (await app.call("POST", f"/generation/jobs/{job_id}/retry")).status_code == 202
        await drain(rt)
        assert (await _job(app, job_id))["status"] == "completed"
        assert _creates(ark[0]) == 2  # the expired task's result is gone: a new task


async def test_polls_failing_then_capture_fetches_the_same_task(
        remote_app: Callable[..., Any], ark: tuple[ArkFake, str]) -> None:
    async with remote_app(job_max_attempts=1) as (rt, app):
        art = await app.artwork()
        ark[0].fail(503, times=10_000, path="/tasks/cgt-")  # polls (and the clean-up DELETE) get 503
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        # 503 on every poll: the provider is unavailable (its breaker may have opened and the outage window passed)
        assert job["status"] == "failed"
        assert job["error"]["code"] in ("provider_unavailable_status", "provider_unavailable")
        ark[0].faults.clear()
        captured = await app.call("POST", f"/generation/jobs/{job_id}/capture", json={})
        assert captured.status_code == 200 and captured.json()["status"] == "queued"
        await drain(rt)
        done = await _job(app, job_id)
        assert done["status"] == "completed" and done["videoUrl"]
        assert _creates(ark[0]) == 1  # the first task's video, captured: nothing paid twice
        again = await app.call("POST", f"/generation/jobs/{job_id}/capture", json={})
        assert again.json() == done


async def test_provider_timeout_fails_with_the_reason(remote_app: Callable[..., Any],
                                                      ark: tuple[ArkFake, str]) -> None:
    async with remote_app(task_timeout_seconds=0.3, job_max_attempts=2) as (rt, app):
        art = await app.artwork()
        ark[0].queued_seconds = 60.0
        job_id = await _start(app, art["id"])
        await drain(rt)
        job = await _job(app, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "provider_timeout"
        assert _creates(ark[0]) == 2  # retried once (retryable), each attempt a new task: the old one was cancelled
        assert all(t.canceled for t in ark[0].tasks.values())


async def test_first_frame_by_presigned_url_on_s3(remote_app: Callable[..., Any], ark: tuple[ArkFake, str],
                                                  moto_server: str) -> None:
    """GENLOOM_HUABAN_IMAGE_TRANSPORT=url: Seedance fetches the drawing itself from the bucket's presigned GET."""
    from tests.huaban.conftest import s3_overrides

    async with remote_app(huaban_image_transport="url", **s3_overrides(moto_server)) as (rt, app):
        art = await app.artwork()
        job_id = await _start(app, art["id"])
        await drain(rt)
        assert (await _job(app, job_id))["status"] == "completed"
        [task] = ark[0].tasks.values()
        frame = next(c for c in task.body["content"] if c["type"] == "image_url")
        assert frame["role"] == "first_frame" and frame["image_url"]["url"].startswith(moto_server)
        assert ark[0].first_frames[task.id] == drawing_png()  # what Seedance downloaded is the drawing
