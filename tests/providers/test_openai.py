"""The OpenAI clients (chat, images, transcription) against the fake OpenAI server: happy paths, faults,
redaction, start-up settings, and image jobs through the real queue producing stored media."""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from genloom.core.settings import Settings, SettingsError
from genloom.providers.base import (
    AsrProvider,
    AsrRequest,
    ChatMessage,
    ImageProvider,
    ImageRequest,
    ProviderError,
    VisionRequest,
)
from genloom.providers.factory import build_providers
from genloom.providers.openai.compat import stream_error_status
from genloom.providers.openai.media import nearest_size
from genloom.runtime import Runtime
from tests.fakes.base import FakeServer
from tests.fakes.openai import OpenAIFake, create_app
from tests.providers.remote import Recorder, fast_settings, finish, log_lines, post_job, queue_overrides, served

KEY = "sk-test-openai-0123456789abcdef"


@pytest.fixture
def openai() -> Iterator[tuple[OpenAIFake, FakeServer]]:
    yield from served(OpenAIFake(api_key=KEY), create_app)


def openai_settings(server: FakeServer, **overrides: Any) -> Settings:
    base = {"openai_base_url": f"{server.url}/v1", "openai_api_key": KEY, "text_provider": "openai",
            "image_provider": "openai", "asr_provider": "openai", "vision_provider": "openai"}
    return fast_settings(**{**base, **overrides})


@pytest.fixture
async def providers(openai: tuple[OpenAIFake, FakeServer]) -> Any:
    async with aclosing(build_providers(openai_settings(openai[1]))) as built:
        yield built


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return buf.getvalue()


class TestChat:
    async def test_complete_and_stream(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        result = await providers.text.complete([ChatMessage("user", "a fox in snow")], max_tokens=50)
        assert result.text == "refined: a fox in snow" and result.provider == "openai"
        parts = [p async for p in providers.text.stream([ChatMessage("user", "a fox in snow")])]
        assert "".join(parts) == "refined: a fox in snow" and len(parts) > 2
        plain, streamed = (r.json() for r in state.seen("POST", "/chat/completions"))
        assert plain["model"] == "gpt-4o-mini" and plain["max_tokens"] == 50 and "stream" not in plain
        assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}

    async def test_error_inside_the_stream(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.stream_error = True
        parts: list[str] = []
        with pytest.raises(ProviderError) as info:
            async for part in providers.text.stream([ChatMessage("user", "x")]):
                parts.append(part)
        assert parts == ["par"] and info.value.retryable
        assert "error while processing" in info.value.message

    def test_stream_error_status(self) -> None:
        # an error chunk mid-stream carries its status as a number, as digits (DashScope), or not at all
        errors = [{"status": 429}, {"status": "503"}, {"code": "server_error"}, {"status": 0}, {"status": "n/a"}]
        assert [stream_error_status(e) for e in errors] == [429, 503, 500, 500, 500]

    async def test_5xx_then_success(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.fail(502, times=1, path="/chat/completions")
        state.fail(429, times=1, retry_after=0.01, path="/chat/completions")
        assert (await providers.text.complete([ChatMessage("user", "x")])).text == "refined: x"
        assert len(state.seen("POST", "/chat/completions")) == 3

    async def test_insufficient_quota_is_final(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.fail(429, code="insufficient_quota", message="You exceeded your current quota.", path="/chat")
        with pytest.raises(ProviderError) as info:
            await providers.text.complete([ChatMessage("user", "x")])
        assert info.value.code == "provider_quota" and not info.value.retryable

    async def test_vision_json(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PNG")
        result = await providers.vision.analyze(VisionRequest(image=buf.getvalue(), image_mime="image/png",
                                                              instruction="describe"))
        assert result.data["summary"].startswith("a bright drawing")
        assert state.seen("POST", "/chat/completions")[-1].json()["response_format"] == {"type": "json_object"}


class TestImages:
    def test_sizes_snap_to_what_the_model_supports(self) -> None:
        assert nearest_size("gpt-image-1", 1024, 1024) == "1024x1024"
        assert nearest_size("gpt-image-1", 1280, 720) == "1536x1024"
        assert nearest_size("dall-e-3", 720, 1280) == "1024x1792"
        assert nearest_size("dall-e-2", 300, 300) == "256x256"

    async def test_gpt_image_b64(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        image = providers.image
        assert isinstance(image, ImageProvider)
        progress = Recorder()
        result = await image.generate(ImageRequest(prompt="a watercolor fox", negative_prompt="text",
                                                   width=1536, height=1024, count=2), progress=progress)
        assert [i.mime for i in result.images] == ["image/png", "image/png"]
        with Image.open(io.BytesIO(result.images[0].data)) as im:
            assert im.size == (1536, 1024)
        body = state.seen("POST", "/images/generations")[-1].json()
        assert body == {"model": "gpt-image-1", "prompt": "a watercolor fox\nAvoid: text", "size": "1536x1024", "n": 2}
        assert progress.phases == ["generating", "downloading"]

    async def test_dall_e_url_is_downloaded(self, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        async with aclosing(build_providers(openai_settings(server, image_model="dall-e-3"))) as built:
            result = await built.image.generate(ImageRequest(prompt="a whale", width=1024, height=1024,
                                                             extra={"response_format": "url"}))
        assert result.images[0].mime == "image/png" and result.revised_prompt == "a whale, detailed"
        [blob] = state.seen("GET", "/blob/")
        assert "authorization" not in blob.headers  # the result host never sees the API key

    async def test_expired_url(self, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        state.expire_results = True
        async with aclosing(build_providers(openai_settings(server, image_model="dall-e-2"))) as built:
            with pytest.raises(ProviderError) as info:
                await built.image.generate(ImageRequest(prompt="x", width=512, height=512,
                                                        extra={"response_format": "url"}))
        assert info.value.code == "result_expired" and not info.value.retryable

    async def test_moderation_block_is_final(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.moderation_block = True
        with pytest.raises(ProviderError) as info:
            await providers.image.generate(ImageRequest(prompt="x"))
        assert info.value.code == "content_policy" and "safety system" in info.value.message
        assert len(state.seen("POST", "/images/generations")) == 1

    async def test_read_timeout_is_not_resubmitted(self, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        state.slow(1.0, path="/images/generations")
        async with aclosing(build_providers(openai_settings(server, provider_read_timeout=0.3))) as built:
            with pytest.raises(ProviderError) as info:
                await built.image.generate(ImageRequest(prompt="x"))
        # an image POST is billed: after a read timeout it may have been made, so it is not sent again
        assert info.value.code == "provider_timeout" and info.value.retryable
        assert len(state.seen("POST", "/images/generations")) == 1

    async def test_malformed_answer_is_retried(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.malformed(path="/images/generations")
        with pytest.raises(ProviderError) as info:
            await providers.image.generate(ImageRequest(prompt="x"))
        # a 200 with a garbled body was billed: not resubmitted inline, but retryable for the queue
        assert info.value.code == "provider_bad_response" and info.value.retryable


class TestTranscription:
    async def test_multipart_upload(self, providers: Any, openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        asr = providers.asr
        assert isinstance(asr, AsrProvider)
        result = await asr.transcribe(AsrRequest(audio=wav_bytes(), audio_mime="audio/wav", language="zh-CN"))
        assert result.text == state.transcript and result.model == "whisper-1"
        seen = state.seen("POST", "/audio/transcriptions")[-1]
        assert seen.headers["content-type"].startswith("multipart/form-data")
        assert b'filename="audio.wav"' in seen.body and b"whisper-1" in seen.body
        assert b'name="language"\r\n\r\nzh' in seen.body

    async def test_no_audio(self, providers: Any) -> None:
        with pytest.raises(ProviderError) as info:
            await providers.asr.transcribe(AsrRequest())
        assert info.value.code == "asr_no_audio"


class TestRedactionAndSettings:
    async def test_logs_carry_neither_key_nor_prompt(self, providers: Any, openai: tuple[OpenAIFake, FakeServer],
                                                     caplog: pytest.LogCaptureFixture) -> None:
        state, _ = openai
        caplog.set_level(logging.DEBUG)
        secret = "my-private-diary-entry-42"
        state.fail(500, times=1)
        await providers.text.complete([ChatMessage("user", secret)])
        await providers.image.generate(ImageRequest(prompt=secret))
        state.moderation_block = True
        with pytest.raises(ProviderError):
            await providers.image.generate(ImageRequest(prompt=secret))
        lines = log_lines(caplog)
        assert any("provider=openai" in line for line in lines)
        for line in lines:
            assert KEY not in line and secret not in line

    @pytest.mark.parametrize("capability", ["text", "image", "asr", "vision"])
    def test_missing_key_stops_start_up(self, capability: str) -> None:
        with pytest.raises(SettingsError) as info:
            build_providers(fast_settings(**{f"{capability}_provider": "openai"}))
        assert "OPENAI_API_KEY" in str(info.value)

    def test_openai_has_no_video(self) -> None:
        with pytest.raises(SettingsError, match="GENLOOM_VIDEO_PROVIDER"):
            build_providers(fast_settings(video_provider="openai", openai_api_key=KEY))


# --- through the real job queue ---------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path, openai: tuple[OpenAIFake, FakeServer]) -> Settings:
    return openai_settings(openai[1], **queue_overrides(database_url, tmp_path))


class TestThroughTheQueue:
    async def test_image_job_stores_media(self, client: httpx.AsyncClient, runtime: Runtime,
                                          openai: tuple[OpenAIFake, FakeServer]) -> None:
        created = await post_job(client, {"prompt": "一只狐狸", "width": 1024, "height": 1024, "count": 2})
        assert created.status_code == 202, created.text
        job = await finish(runtime, created)
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert result["provider"] == "openai" and result["model"] == "gpt-image-1"
        assert result["prompt"]["final"] == "refined: 一只狐狸"
        assert len(result["images"]) == 2 and len(await runtime.blobs.list("")) == 4

    async def test_moderation_fails_the_job_with_the_reason(self, client: httpx.AsyncClient, runtime: Runtime,
                                                            openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, _ = openai
        state.moderation_block = True
        job = await finish(runtime, await post_job(client, {"prompt": "x"}))
        assert job["status"] == "failed" and job["attempts"] == 1
        assert "safety system" in job["error"]["message"]
        assert await runtime.blobs.list("") == []
