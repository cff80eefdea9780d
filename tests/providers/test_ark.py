"""The Ark clients (Doubao chat and vision, Seedance video tasks) against the fake Ark server: happy paths,
every fault class, cancel → DELETE, redaction, start-up settings, and a job through the real queue."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from genloom.core.settings import Settings, SettingsError
from genloom.providers.base import (
    ChatMessage,
    ProviderError,
    TextProvider,
    VideoProvider,
    VideoRequest,
    VisionProvider,
    VisionRequest,
)
from genloom.providers.factory import build_providers
from genloom.runtime import Runtime
from tests.fakes.ark import ArkFake, create_app
from tests.fakes.base import FakeServer
from tests.providers.remote import (
    Recorder,
    cancel_when,
    fast_settings,
    finish,
    log_lines,
    post_job,
    queue_overrides,
    served,
    wait_for,
)

KEY = "ark-secret-key-0123456789"


@pytest.fixture
def ark() -> Iterator[tuple[ArkFake, FakeServer]]:
    yield from served(ArkFake(api_key=KEY), create_app)


def ark_settings(server: FakeServer, **overrides: Any) -> Settings:
    base = {"ark_base_url": f"{server.url}/api/v3", "ark_api_key": KEY, "text_provider": "doubao",
            "vision_provider": "ark", "video_provider": "seedance"}
    return fast_settings(**{**base, **overrides})


@pytest.fixture
async def providers(ark: tuple[ArkFake, FakeServer]) -> Any:
    async with aclosing(build_providers(ark_settings(ark[1]))) as built:
        yield built


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


class TestChat:
    async def test_complete(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        text = providers.text
        assert isinstance(text, TextProvider) and text.name == "ark"
        result = await text.complete([ChatMessage("system", "be brief"), ChatMessage("user", "一只猫")])
        assert result.text == "refined: 一只猫" and result.model == "doubao-1-5-pro-256k-250115"
        assert result.usage["total_tokens"] > 0
        [seen] = state.seen("POST", "/chat/completions")
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert seen.json()["messages"][0] == {"role": "system", "content": "be brief"}

    async def test_stream(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        parts = [p async for p in providers.text.stream([ChatMessage("user", "a quiet lake at dawn")])]
        assert len(parts) > 3 and "".join(parts) == "refined: a quiet lake at dawn"
        assert state.seen("POST", "/chat/completions")[-1].json()["stream"] is True

    async def test_sensitive_input_fails_with_the_reason(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.reject_content = True
        with pytest.raises(ProviderError) as info:
            await providers.text.complete([ChatMessage("user", "x")])
        assert info.value.code == "content_policy" and not info.value.retryable
        assert "sensitive information" in info.value.message
        assert len(state.seen("POST", "/chat/completions")) == 1

    async def test_rate_limit_is_retried_after_retry_after(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.fail(429, times=2, retry_after=0.05, path="/chat/completions")
        result = await providers.text.complete([ChatMessage("user", "hi")])
        assert result.text == "refined: hi" and len(state.seen("POST", "/chat/completions")) == 3

    async def test_quota_429_is_not_retried(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.fail(429, code="AccountQuotaExceeded", message="quota resets at 00:00", path="/chat/completions")
        with pytest.raises(ProviderError) as info:
            await providers.text.complete([ChatMessage("user", "hi")])
        assert info.value.code == "provider_quota" and not info.value.retryable
        assert "quota resets" in info.value.message and len(state.seen("POST", "/chat/completions")) == 1

    async def test_wrong_key_is_an_auth_failure(self, ark: tuple[ArkFake, FakeServer]) -> None:
        async with aclosing(build_providers(ark_settings(ark[1], ark_api_key="wrong"))) as built:
            with pytest.raises(ProviderError) as info:
                await built.text.complete([ChatMessage("user", "hi")])
        assert info.value.code == "provider_auth" and not info.value.retryable


class TestVision:
    async def test_analyze_returns_the_json_object(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        vision = providers.vision
        assert isinstance(vision, VisionProvider)
        result = await vision.analyze(VisionRequest(image=png_bytes(), image_mime="image/png",
                                                    instruction="Rate this child's drawing",
                                                    schema_hint={"summary": "str", "scores": {"color": "int"}}))
        assert result.data["scores"]["color"] == 8 and result.model == "doubao-1-5-vision-pro-32k-250115"
        content = state.seen("POST", "/chat/completions")[-1].json()["messages"][0]["content"]
        assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert "Rate this child's drawing" in content[1]["text"]


class TestSeedance:
    async def test_text_to_video(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        video = providers.video
        assert isinstance(video, VideoProvider)
        progress = Recorder()
        result = await video.generate(VideoRequest(prompt="一只橘猫伸懒腰", duration_s=5, ratio="9:16", seed=7),
                                      progress=progress)
        assert result.provider == "ark" and result.model == "doubao-seedance-1-0-pro-250528"
        assert result.video.mime == "video/mp4" and result.video.data[4:8] == b"ftyp"
        assert result.video.duration_ms == 5000
        body = state.seen("POST", "/contents/generations/tasks")[-1].json()
        assert body["content"] == [{"type": "text",
                                    "text": "一只橘猫伸懒腰 --resolution 720p --ratio 9:16 --duration 5 --seed 7"}]
        assert progress.phases == ["submitting", "queued", "generating", "downloading"]

    async def test_image_to_video_sends_the_first_frame(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        result = await providers.video.generate(VideoRequest(prompt="the drawing comes alive", image=png_bytes(),
                                                             image_mime="image/png", ratio="adaptive"))
        assert result.video.mime == "video/mp4"
        content = state.seen("POST", "/contents/generations/tasks")[-1].json()["content"]
        assert content[1]["role"] == "first_frame"
        assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert "--ratio adaptive" in content[0]["text"]

    async def test_failed_task_carries_the_provider_reason(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.fail_next_task()
        with pytest.raises(ProviderError) as info:
            await providers.video.generate(VideoRequest(prompt="x"))
        err = info.value
        assert err.code == "content_policy" and not err.retryable
        assert "OutputVideoSensitiveContentDetected" in err.message and "sensitive content" in err.message
        assert not state.seen("DELETE")  # a finished task is not "cancelled"

    async def test_service_failure_of_a_task_is_retryable(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.fail_next_task("InternalServiceError", "The service encountered an unexpected internal error.")
        with pytest.raises(ProviderError) as info:
            await providers.video.generate(VideoRequest(prompt="x"))
        assert info.value.retryable

    async def test_server_errors_while_polling_are_retried(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.fail(503, times=1, method="GET", path="/contents/generations/tasks/")
        state.fail(500, times=1, method="GET", path="/contents/generations/tasks/")
        result = await providers.video.generate(VideoRequest(prompt="x"))
        assert result.video.mime == "video/mp4"

    async def test_malformed_json_is_retried(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.malformed(times=1, method="GET", path="/contents/generations/tasks/")
        result = await providers.video.generate(VideoRequest(prompt="x"))
        assert result.video.mime == "video/mp4"

    async def test_slow_poll_times_out_and_is_retried(self, ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        async with aclosing(build_providers(ark_settings(server, provider_read_timeout=0.3))) as built:
            state.slow(1.0, times=1, method="GET", path="/contents/generations/tasks/")
            result = await built.video.generate(VideoRequest(prompt="x"))
        assert result.video.mime == "video/mp4"
        assert len(state.seen("POST", "/contents/generations/tasks")) == 1  # polls retried, never the submit

    async def test_slow_submit_is_not_resubmitted(self, ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        async with aclosing(build_providers(ark_settings(server, provider_read_timeout=0.3))) as built:
            state.slow(1.0, times=1, method="POST", path="/contents/generations/tasks")
            with pytest.raises(ProviderError) as info:
                await built.video.generate(VideoRequest(prompt="x"))
        assert info.value.code == "provider_timeout" and info.value.retryable
        assert len(state.seen("POST", "/contents/generations/tasks")) == 1

    async def test_expired_result_url(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.expire_results = True
        with pytest.raises(ProviderError) as info:
            await providers.video.generate(VideoRequest(prompt="x"))
        assert info.value.code == "result_expired" and not info.value.retryable

    async def test_unknown_model_is_a_bad_request(self, providers: Any) -> None:
        with pytest.raises(ProviderError) as info:
            await providers.video.generate(VideoRequest(prompt="x", model="wan2.1-t2v"))
        assert info.value.code == "provider_bad_request" and "does not exist" in info.value.message

    async def test_cancel_deletes_the_queued_task(self, providers: Any, ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.queued_seconds = 60
        progress = Recorder()
        task = asyncio.create_task(providers.video.generate(VideoRequest(prompt="x"), progress=progress))

        async def queued() -> bool:
            return "queued" in progress.phases

        await cancel_when(task, queued)
        [deleted] = state.seen("DELETE", "/contents/generations/tasks/")
        task_id = deleted.path.rsplit("/", 1)[-1]
        assert state.status_of(state.tasks[task_id]) == "cancelled"

    async def test_circuit_opens_and_closes(self, ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        async with aclosing(build_providers(ark_settings(server, breaker_failures=2, breaker_cooldown_seconds=0.3,
                                                         provider_max_retries=0))) as built:
            guard = built.health["ark"]
            state.fail(500, times=2, path="/chat/completions")
            for _ in range(2):
                with pytest.raises(ProviderError):
                    await built.text.complete([ChatMessage("user", "hi")])
            assert guard.status()["breaker"]["state"] == "open"
            # every Ark capability shares the breaker: video is refused without a call too
            with pytest.raises(ProviderError) as info:
                await built.video.generate(VideoRequest(prompt="x"))
            assert info.value.code == "provider_unavailable"
            assert not state.seen("POST", "/contents/generations/tasks")

            async def cooled() -> bool:
                return guard.status()["breaker"]["retry_in_seconds"] == 0

            await wait_for(cooled)
            assert (await built.text.complete([ChatMessage("user", "hi")])).text == "refined: hi"
            assert guard.status()["breaker"]["state"] == "closed"


class TestRedactionAndSettings:
    async def test_logs_carry_neither_key_nor_prompt(self, providers: Any, ark: tuple[ArkFake, FakeServer],
                                                     caplog: pytest.LogCaptureFixture) -> None:
        state, _ = ark
        caplog.set_level(logging.DEBUG)
        secret_prompt = "purple-elephant-confidential-idea"
        state.fail(500, times=1, path="/chat/completions")
        await providers.text.complete([ChatMessage("user", secret_prompt)])
        await providers.video.generate(VideoRequest(prompt=secret_prompt))
        state.fail_next_task()
        with pytest.raises(ProviderError):
            await providers.video.generate(VideoRequest(prompt=secret_prompt))
        lines = log_lines(caplog)
        assert any("provider=ark" in line for line in lines)  # calls are logged…
        for line in lines:  # …without secrets or user text
            assert KEY not in line and secret_prompt not in line

    @pytest.mark.parametrize("capability", ["text", "vision", "video"])
    def test_missing_key_stops_start_up(self, capability: str) -> None:
        with pytest.raises(SettingsError) as info:
            build_providers(fast_settings(**{f"{capability}_provider": "doubao"}))
        assert "ARK_API_KEY" in str(info.value)

    def test_aliases_and_model_settings(self, ark: tuple[ArkFake, FakeServer]) -> None:
        settings = ark_settings(ark[1], text_provider="doubao", video_provider="seedance",
                                video_model="doubao-seedance-1-0-lite-i2v-250428", text_model="ep-20250101-abc")
        assert settings.text_provider == settings.video_provider == "ark"
        built = build_providers(settings)
        assert built.video.model == "doubao-seedance-1-0-lite-i2v-250428"  # type: ignore[union-attr]
        assert built.text.model == "ep-20250101-abc"  # type: ignore[attr-defined]
        asyncio.run(built.aclose())


# --- through the real job queue ---------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ark: tuple[ArkFake, FakeServer]) -> Settings:
    return ark_settings(ark[1], **queue_overrides(database_url, tmp_path))


class TestThroughTheQueue:
    async def test_doubao_writes_the_prompt_of_an_image_job(self, client: httpx.AsyncClient, runtime: Runtime,
                                                            ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        created = await post_job(client, {"prompt": "雨夜的城市", "width": 64, "height": 64, "seed": 1})
        assert created.status_code == 202, created.text
        job = await finish(runtime, created)
        assert job["status"] == "succeeded", job
        assert job["result"]["prompt"]["final"] == "refined: 雨夜的城市"
        assert len(job["result"]["images"]) == 1 and len(await runtime.blobs.list("")) == 2
        assert state.seen("POST", "/chat/completions")

    async def test_rejected_prompt_fails_the_job_at_once(self, client: httpx.AsyncClient, runtime: Runtime,
                                                         ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        state.reject_content = True
        job = await finish(runtime, await post_job(client, {"prompt": "x"}))
        assert job["status"] == "failed" and job["attempts"] == 1
        assert "sensitive information" in job["error"]["message"]

    async def test_server_errors_are_retried_by_the_queue(self, client: httpx.AsyncClient, runtime: Runtime,
                                                          ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        # more failures than one call's retries: the job fails retryably, the queue runs it again (a 500 uses an
        # attempt; a 502/503/504 would be an outage, waited out without one)
        state.fail(500, times=runtime.settings.provider_max_retries + 1, path="/chat/completions")
        job = await finish(runtime, await post_job(client, {"prompt": "x", "width": 64, "height": 64}))
        assert job["status"] == "succeeded" and job["attempts"] == 2

    async def test_providers_route_shows_ark_and_its_breaker(self, client: httpx.AsyncClient, runtime: Runtime,
                                                             ark: tuple[ArkFake, FakeServer]) -> None:
        state, _ = ark
        body = (await client.get("/v1/providers")).json()
        caps = body["capabilities"]
        assert caps["text"] == {"provider": "ark", "model": "doubao-1-5-pro-256k-250115", "circuit": "closed",
                                "reachable": None}  # probes are off in tests unless asked for
        assert caps["video"]["model"] == "doubao-seedance-1-0-pro-250528"
        assert caps["vision"]["provider"] == "ark"
        assert body["health"]["ark"]["in_flight"] == 0
        state.fail(500, times=100, path="/chat/completions")
        for _ in range(runtime.settings.breaker_failures):
            with pytest.raises(ProviderError):
                await runtime.providers.text.complete([ChatMessage("user", "hi")])
        body = (await client.get("/v1/providers")).json()
        assert body["capabilities"]["video"]["circuit"] == "open"  # one breaker per provider
        assert body["health"]["ark"]["breaker"]["state"] == "open"
        assert KEY not in str(body)
