"""The DashScope clients against the fake DashScope server (real HTTP on a real port)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from genloom.core.settings import Settings
from genloom.providers import dashscope
from genloom.providers.base import (
    AsrRequest,
    ChatMessage,
    ImageRequest,
    ProviderError,
    Providers,
    VisionRequest,
)
from genloom.providers.factory import build_providers
from tests.fakes.dashscope import render_png
from tests.providers.conftest import DASHSCOPE_KEY, Fake
from tests.providers.jobrun import wait_for_request


def providers_for(provider_settings: Callable[..., Settings], fake: Fake, **kw: Any) -> Providers:
    values: dict[str, Any] = {"text_provider": "qwen", "image_provider": "dashscope", "asr_provider": "dashscope",
                              "vision_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
                              "dashscope_base_url": fake.url}
    return build_providers(provider_settings(**{**values, **kw}))


@pytest.fixture
async def ds(provider_settings: Callable[..., Settings], dashscope: Fake) -> Any:
    providers = providers_for(provider_settings, dashscope)
    yield providers
    await providers.aclose()


async def test_qwen_complete(ds: Providers, dashscope: Fake) -> None:
    result = await ds.text.complete([ChatMessage("system", "be short"), ChatMessage("user", "一只猫")])
    assert result.text == "refined: 一只猫"
    assert result.provider == "dashscope" and result.model == "qwen-plus"
    assert result.usage["total_tokens"] > 0
    seen = dashscope.state.seen("POST", "/compatible-mode/v1/chat/completions")[0]
    assert seen.headers["authorization"] == f"Bearer {DASHSCOPE_KEY}"
    assert seen.json()["model"] == "qwen-plus" and seen.json()["messages"][1]["content"] == "一只猫"


async def test_qwen_stream(ds: Providers, dashscope: Fake) -> None:
    pieces = [p async for p in ds.text.stream([ChatMessage("user", "a quiet lake at dawn")])]
    assert len(pieces) > 1
    assert "".join(pieces) == "refined: a quiet lake at dawn"
    body = dashscope.state.seen("POST", "/chat/completions")[0].json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_stream_retries_before_first_byte(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.fail(503, times=1)
    pieces = [p async for p in ds.text.stream([ChatMessage("user", "x y")])]
    assert "".join(pieces) == "refined: x y"
    assert len(dashscope.state.seen("POST", "/chat/completions")) == 2


async def test_zimage_sync_generation(ds: Providers, dashscope: Fake) -> None:
    result = await ds.image.generate(ImageRequest(prompt="a red kite", width=512, height=768, seed=7))
    assert result.provider == "dashscope" and result.model == "z-image-turbo"
    [image] = result.images
    assert image.mime == "image/png" and (image.width, image.height) == (512, 768)
    assert image.data == render_png("a red kite", 512, 768)
    body = dashscope.state.seen("POST", "/multimodal-generation/generation")[0].json()
    assert body["input"]["messages"][0]["content"] == [{"text": "a red kite"}]
    assert body["parameters"]["size"] == "512*768" and body["parameters"]["seed"] == 7
    assert body["parameters"]["prompt_extend"] is False


async def test_zimage_uses_its_own_key(provider_settings: Callable[..., Settings], dashscope: Fake) -> None:
    dashscope.state.api_key = "sk-zimage-only"
    providers = providers_for(provider_settings, dashscope, dashscope_api_key="", zimage_api_key="sk-zimage-only",
                              text_provider="local", asr_provider="local", vision_provider="local")
    try:
        result = await providers.image.generate(ImageRequest(prompt="p", width=512, height=512))
        assert len(result.images) == 1
    finally:
        await providers.aclose()


async def test_zimage_bad_size_is_not_retried(ds: Providers, dashscope: Fake) -> None:
    with pytest.raises(ProviderError) as info:
        await ds.image.generate(ImageRequest(prompt="tiny", width=64, height=64))
    assert info.value.retryable is False and info.value.code == "provider_bad_request"
    assert "InvalidParameter" in info.value.message and "out of range" in info.value.message
    assert len(dashscope.state.seen("POST", "/generation")) == 1


async def test_wan_task_submit_poll_download(ds: Providers, dashscope: Fake) -> None:
    phases: list[tuple[float, str | None]] = []

    async def progress(fraction: float, phase: str | None) -> None:
        phases.append((fraction, phase))

    result = await ds.image.generate(ImageRequest(prompt="花店", width=1024, height=1024, count=2, seed=3,
                                                  model="wan2.2-t2i-flash"), progress=progress)
    assert result.model == "wan2.2-t2i-flash" and len(result.images) == 2
    assert all(i.mime == "image/png" and i.width == 1024 for i in result.images)
    submit = dashscope.state.seen("POST", "/image-synthesis")[0]
    assert submit.headers["x-dashscope-async"] == "enable"
    assert submit.json()["parameters"] == {"size": "1024*1024", "n": 2, "prompt_extend": False, "watermark": False,
                                           "seed": 3}
    assert len(dashscope.state.seen("GET", "/api/v1/tasks/")) >= 2
    assert {p for _, p in phases} >= {"submitting", "downloaded"}
    assert [f for f, _ in phases] == sorted(f for f, _ in phases)


async def test_wan_task_failed_carries_the_reason(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.fail_next_task("InternalError.Algo", "algorithm crashed on this input")
    with pytest.raises(ProviderError) as info:
        await ds.image.generate(ImageRequest(prompt="p", model="wan2.2-t2i-flash"))
    assert "InternalError.Algo: algorithm crashed on this input" in info.value.message
    assert info.value.retryable is True  # an algorithm error is transient per DashScope's error table

    dashscope.state.fail_next_task()  # DataInspectionFailed
    with pytest.raises(ProviderError) as info:
        await ds.image.generate(ImageRequest(prompt="p", model="wan2.2-t2i-flash"))
    assert info.value.code == "content_policy" and info.value.retryable is False
    assert "inappropriate content" in info.value.message


async def test_wan_cancel_while_pending(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.pending_seconds = 60
    job = asyncio.create_task(ds.image.generate(ImageRequest(prompt="p", model="wan2.2-t2i-flash")))
    await wait_for_request(dashscope.state, "GET", "/api/v1/tasks/")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    [task] = dashscope.state.tasks.values()
    assert task.canceled
    assert dashscope.state.seen("POST", f"/api/v1/tasks/{task.id}/cancel")


async def test_expired_result_url(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.expire_results = True
    with pytest.raises(ProviderError) as info:
        await ds.image.generate(ImageRequest(prompt="p", width=512, height=512))
    assert info.value.code == "result_expired" and info.value.retryable is False


async def test_malformed_json_is_retried(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.malformed(path="/chat/completions")
    result = await ds.text.complete([ChatMessage("user", "hello")])
    assert result.text == "refined: hello"
    assert len(dashscope.state.seen("POST", "/chat/completions")) == 2


async def test_slow_response_past_the_timeout_is_retried(provider_settings: Callable[..., Settings],
                                                         dashscope: Fake) -> None:
    providers = providers_for(provider_settings, dashscope, provider_read_timeout=0.3)
    try:
        dashscope.state.slow(1.0, path="/chat/completions")
        result = await providers.text.complete([ChatMessage("user", "hello")])
        assert result.text == "refined: hello"
        assert len(dashscope.state.seen("POST", "/chat/completions")) == 2
    finally:
        await providers.aclose()


async def test_rate_limit_honours_retry_after_then_succeeds(ds: Providers, dashscope: Fake) -> None:
    dashscope.state.fail(429, retry_after=0.1, times=2, path="/chat/completions")
    result = await ds.text.complete([ChatMessage("user", "hello")])
    assert result.text == "refined: hello"
    assert len(dashscope.state.seen("POST", "/chat/completions")) == 3


async def test_auth_error_is_final(provider_settings: Callable[..., Settings], dashscope: Fake) -> None:
    providers = providers_for(provider_settings, dashscope, dashscope_api_key="sk-wrong-key-000")
    try:
        with pytest.raises(ProviderError) as info:
            await providers.text.complete([ChatMessage("user", "hello")])
        assert info.value.code == "provider_auth" and not info.value.retryable
        assert "invalid_api_key" in info.value.message
        assert len(dashscope.state.seen("POST", "/chat/completions")) == 1
    finally:
        await providers.aclose()


async def test_qwen_vl_vision(ds: Providers, dashscope: Fake) -> None:
    png = render_png("drawing", 64, 64)
    result = await ds.vision.analyze(VisionRequest(image=png, image_mime="image/png", instruction="rate the drawing",
                                                   schema_hint={"summary": "str"}))
    assert result.model == "qwen-vl-plus"
    assert result.data["summary"] and result.data["scores"]["color"] == 8
    body = dashscope.state.seen("POST", "/chat/completions")[0].json()
    parts = body["messages"][0]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["response_format"] == {"type": "json_object"}


async def test_paraformer_file_transcription(ds: Providers, dashscope: Fake) -> None:
    result = await ds.asr.transcribe(AsrRequest(audio_url="https://media.example/a.wav", language="zh"))
    assert result.text == "你好，世界。" and result.model == "paraformer-v2"
    body = dashscope.state.seen("POST", "/asr/transcription")[0].json()
    assert body["input"]["file_urls"] == ["https://media.example/a.wav"]
    assert body["parameters"] == {"language_hints": ["zh"]}


async def test_short_audio_bytes_use_qwen3_asr(ds: Providers, dashscope: Fake) -> None:
    audio = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100)
    result = await ds.asr.transcribe(AsrRequest(audio=audio, audio_mime="audio/wav"))
    assert result.model == "qwen3-asr-flash" and result.text.startswith(f"audio {len(audio)} bytes")


def test_default_models() -> None:
    assert dashscope.DEFAULT_TEXT_MODEL == "qwen-plus"
    assert dashscope.DEFAULT_IMAGE_MODEL == "z-image-turbo"
    assert dashscope.DEFAULT_WAN_MODEL == "wan2.2-t2i-flash"
    assert dashscope.DEFAULT_ASR_MODEL == "paraformer-v2"
    assert dashscope.DEFAULT_VISION_MODEL == "qwen-vl-plus"
