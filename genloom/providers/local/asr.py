"""Offline speech recognition: there is no speech model offline, so the transcript the client already has
(``AsrRequest.transcript_hint``, e.g. from the browser's own speech recognition) is the result; without one the
call fails clearly, naming the providers that can transcribe audio."""

from __future__ import annotations

from genloom.providers.base import AsrRequest, AsrResult, ProviderError

MODEL = "client-transcript"
MAX_TRANSCRIPT_CHARS = 100_000


class LocalAsrProvider:
    name = "local"
    model = MODEL

    async def transcribe(self, request: AsrRequest) -> AsrResult:
        hint = (request.transcript_hint or "").strip()
        if not hint:
            raise ProviderError(
                "speech recognition is not available offline: send the transcript with the request, or set "
                "GENLOOM_ASR_PROVIDER to dashscope or openai",
                provider=self.name, code="asr_unavailable", retryable=False,
            )
        if len(hint) > MAX_TRANSCRIPT_CHARS:
            raise ProviderError(f"the transcript is longer than {MAX_TRANSCRIPT_CHARS} characters",
                                provider=self.name, code="transcript_too_long", retryable=False)
        return AsrResult(text=hint, provider=self.name, model=MODEL)
