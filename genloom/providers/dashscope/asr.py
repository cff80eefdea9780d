"""Speech recognition on DashScope.

- Audio at a URL DashScope can fetch (a presigned link): Paraformer / Fun-ASR file transcription, an async
  task (``/services/audio/asr/transcription``) whose result is a second JSON document at ``transcription_url``.
- Audio bytes only: ``qwen3-asr-flash`` through the compatible chat endpoint with the audio as a data URL
  (short clips: ≤ 5 min, ≤ 10 MB), since file transcription cannot take bytes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from genloom.providers.base import AsrRequest, AsrResult, ProviderError
from genloom.providers.dashscope.common import DEFAULT_ASR_MODEL, DEFAULT_SHORT_ASR_MODEL, PROVIDER, DashScopeClient
from genloom.providers.download import download
from genloom.providers.openai.compat import first_content

TRANSCRIPTION_PATH = "/services/audio/asr/transcription"
SHORT_AUDIO_MAX_BYTES = 10 * 1024 * 1024
MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024


class DashScopeAsr:
    """AsrProvider: paraformer-v2 (default), paraformer-v1, fun-asr, sensevoice-v1; qwen3-asr-flash for bytes."""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "") -> None:
        self.client = client
        self.model = model or DEFAULT_ASR_MODEL

    async def aclose(self) -> None:
        await self.client.aclose()

    async def transcribe(self, request: AsrRequest) -> AsrResult:
        if request.audio and (not request.audio_url or self.model.startswith("qwen3-asr")):
            return await self._short(request)
        if request.audio_url:
            return await self._file(request)
        raise ProviderError(f"{PROVIDER}: no audio to transcribe", provider=PROVIDER, code="provider_bad_request",
                            retryable=False)

    async def _file(self, request: AsrRequest) -> AsrResult:
        model = self.model if not self.model.startswith("qwen3-asr-flash") else DEFAULT_ASR_MODEL
        parameters: dict[str, Any] = {}
        if request.language and model in ("paraformer-v2", "fun-asr"):
            parameters["language_hints"] = [request.language]
        body = {"model": model, "input": {"file_urls": [request.audio_url]}, "parameters": parameters}
        task_id = await self.client.submit_task("asr.submit", TRANSCRIPTION_PATH, body)
        output = await self.client.wait_task(task_id, operation="asr.task")
        results = [r for r in output.get("results") or [] if isinstance(r, dict)]
        done = next((r for r in results if r.get("subtask_status", "SUCCEEDED") == "SUCCEEDED"
                     and r.get("transcription_url")), None)
        if done is None:
            failed = results[0] if results else {}
            raise ProviderError(f"{PROVIDER}: {failed.get('code') or 'transcription failed'}: "
                                f"{failed.get('message') or 'no transcription'}", provider=PROVIDER,
                                code="provider_task_failed", retryable=False)
        # The transcription document lives on a signed result host: fetched like media (no key sent, host checked).
        got = await download(str(done["transcription_url"]), settings=self.client.settings, guard=self.client.guard,
                             accept=(), max_bytes=MAX_TRANSCRIPT_BYTES, operation="asr.result")
        try:
            doc = json.loads(got.data)
        except ValueError:
            raise ProviderError(f"{PROVIDER}: the transcription document was not valid JSON", provider=PROVIDER,
                                code="provider_bad_response", retryable=True) from None
        texts = [str(t.get("text", "")) for t in (doc.get("transcripts") or []) if isinstance(t, dict)]
        return AsrResult(text="\n".join(t for t in texts if t), provider=self.name, model=model)

    async def _short(self, request: AsrRequest) -> AsrResult:
        assert request.audio is not None
        if len(request.audio) > SHORT_AUDIO_MAX_BYTES:
            raise ProviderError(f"{PROVIDER}: audio over 10 MB needs a URL for file transcription",
                                provider=PROVIDER, code="provider_bad_request", retryable=False)
        model = self.model if self.model.startswith("qwen3-asr") else DEFAULT_SHORT_ASR_MODEL
        mime = request.audio_mime or "audio/wav"
        data_url = f"data:{mime};base64,{base64.b64encode(request.audio).decode()}"
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": data_url}}]}],
            "stream": False,
            "asr_options": {"enable_itn": False, **({"language": request.language} if request.language else {})},
        }
        answer = await self.client.chat_api.post("asr.short", "/chat/completions", json=body)
        return AsrResult(text=first_content(self.client.chat_api, answer).strip(), provider=self.name, model=model)
