"""``audio.transcribe`` through the real queue: the offline provider (the client's transcript), Paraformer file
transcription on the fake DashScope server, and OpenAI transcription on the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genloom.runtime import Runtime
from tests.conftest import drain
from tests.fakes.base import FakeServer
from tests.fakes.openai import OpenAIFake
from tests.pipelines.conftest import OPENAI_KEY, store_input, wav_bytes
from tests.providers.conftest import DASHSCOPE_KEY, Fake
from tests.providers.jobrun import create, event_types, get

KIND = "audio.transcribe"


class TestLocal:
    async def test_returns_the_clients_transcript(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, wav_bytes())
        created = await client.post("/v1/jobs", json={"kind": KIND, "input": {
            "audio_asset_id": asset_id, "transcript": "  从前有一只小狐狸。 ", "language": "zh"}})
        assert created.status_code == 202, created.text
        await drain(runtime)
        job = (await client.get(f"/v1/jobs/{created.json()['id']}")).json()
        assert job["status"] == "succeeded", job
        assert job["result"] == {"text": "从前有一只小狐狸。", "provider": "local", "model": "client-transcript"}
        assert "phase" in await event_types(runtime, job["id"])

    async def test_without_a_transcript_it_fails_clearly(self, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, wav_bytes())
        job_id = await create(runtime, KIND, audio_asset_id=asset_id)
        await drain(runtime)
        job = await get(runtime, job_id)
        assert job["status"] == "failed" and job["attempts"] == 1  # not retried: it can never work offline
        assert job["error"]["code"] == "asr_unavailable"
        assert "GENLOOM_ASR_PROVIDER" in job["error"]["message"]

    async def test_another_owners_audio_is_not_found(self, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, wav_bytes(), owner_id="someone-else")
        job_id = await create(runtime, KIND, audio_asset_id=asset_id, transcript="hi")
        await drain(runtime)
        job = await get(runtime, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "asset_not_found"

    @pytest.mark.parametrize(("job_input", "field"), [
        ({}, "input"),
        ({"language": "zh"}, "input"),
        ({"audio_asset_id": "a", "audio_url": "https://x.example/a.wav"}, "input"),
        ({"audio_url": "ftp://x.example/a.wav"}, "input.audio_url"),
        ({"transcript": "hi", "language": "chinese please"}, "input.language"),
        ({"transcript": "x" * 100_001}, "input.transcript"),
        ({"transcript": "hi", "speaker": 1}, "input.speaker"),
    ])
    async def test_invalid_input_rejected_before_queueing(self, client: httpx.AsyncClient, job_input: dict[str, Any],
                                                          field: str) -> None:
        response = await client.post("/v1/jobs", json={"kind": KIND, "input": job_input})
        assert response.status_code == 400 and response.json()["field"] == field
        assert (await client.get("/v1/jobs")).json()["items"] == []


class TestRemote:
    async def test_paraformer_transcribes_a_signed_url_of_the_asset(self, open_runtime: Callable[..., Any],
                                                                    dashscope: Fake) -> None:
        overrides = {"asr_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
                     "dashscope_base_url": dashscope.url, "public_base_url": "https://media.example"}
        async with open_runtime(**overrides) as rt:
            asset_id = await store_input(rt, wav_bytes())
            job_id = await create(rt, KIND, audio_asset_id=asset_id, language="zh")
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "succeeded", job["error"]
            assert job["result"] == {"text": "你好，世界。", "provider": "dashscope", "model": "paraformer-v2"}
            [sent] = dashscope.state.seen("POST", "/asr/transcription")
            body = sent.json()
            [url] = body["input"]["file_urls"]
            assert url.startswith("https://media.example/media/uploads/") and "sig=" in url
            assert body["parameters"]["language_hints"] == ["zh"]

    async def test_without_a_public_url_the_bytes_go_to_qwen3_asr(self, open_runtime: Callable[..., Any],
                                                                  dashscope: Fake) -> None:
        overrides = {"asr_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
                     "dashscope_base_url": dashscope.url}
        async with open_runtime(**overrides) as rt:
            audio = wav_bytes()
            job_id = await create(rt, KIND, audio_asset_id=await store_input(rt, audio))
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "succeeded", job["error"]
            assert job["result"]["model"] == "qwen3-asr-flash"
            assert job["result"]["text"].startswith(f"audio {len(audio)} bytes")
            assert not dashscope.state.seen("POST", "/asr/transcription")

    async def test_a_paraformer_task_failure_fails_the_job(self, open_runtime: Callable[..., Any],
                                                           dashscope: Fake) -> None:
        overrides = {"asr_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
                     "dashscope_base_url": dashscope.url}
        async with open_runtime(**overrides) as rt:
            dashscope.state.fail_next_task("InvalidFile.DownloadFailed", "The audio file cannot be downloaded.")
            job_id = await create(rt, KIND, audio_url="https://media.example/a.wav")
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "failed" and job["error"]["retryable"] is False
            assert "The audio file cannot be downloaded." in job["error"]["message"]

    async def test_openai_transcribes_the_asset_bytes(self, open_runtime: Callable[..., Any],
                                                      openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        overrides = {"asr_provider": "openai", "openai_api_key": OPENAI_KEY, "openai_base_url": f"{server.url}/v1"}
        async with open_runtime(**overrides) as rt:
            audio = wav_bytes()
            asset_id = await store_input(rt, audio)
            job_id = await create(rt, KIND, audio_asset_id=asset_id, language="en-US")
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "succeeded", job["error"]
            assert job["result"] == {"text": state.transcript, "provider": "openai", "model": "whisper-1"}
            [sent] = state.seen("POST", "/audio/transcriptions")
            assert b'filename="audio.wav"' in sent.body and audio in sent.body
            assert b'name="language"\r\n\r\nen' in sent.body
