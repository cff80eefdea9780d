"""``audio.transcribe``: speech → text with the configured ASR provider.

Sources: an audio (or video) asset of the job's owner, a URL the provider fetches itself (remote providers
only), and/or a transcript the client already has (what the offline provider returns). For an asset the provider
gets the bytes and, when the store can give one, an absolute signed URL: DashScope's Paraformer file
transcription needs a URL it can fetch, the others upload the bytes.

Phases: ``preparing`` (the asset is read), ``transcribing``. The transcript is the job's result; nothing is
stored besides it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.pipelines.inputs import load_owned_asset, require_provider
from genloom.providers.base import AsrRequest

KIND = "audio.transcribe"
MAX_AUDIO_BYTES = 100 * 1024 * 1024
#: how long the signed URL handed to a provider stays valid (file transcription may queue for a while)
AUDIO_URL_SECONDS = 3 * 3600
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


class AudioTranscribeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    audio_asset_id: str | None = Field(default=None, min_length=1, max_length=36)
    #: http(s) URL of the audio, fetched by the provider (not by genloom's offline provider)
    audio_url: str | None = Field(default=None, min_length=1, max_length=2000)
    #: the transcript the client already has (e.g. from the browser's speech recognition)
    transcript: str | None = Field(default=None, min_length=1, max_length=100_000)
    #: BCP 47 language hint, e.g. "zh", "en", "zh-CN"
    language: str | None = Field(default=None, max_length=16)

    @field_validator("audio_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.fullmatch(value):
            raise ValueError("must be a language tag such as 'zh' or 'en-US'")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> AudioTranscribeInput:
        if self.audio_asset_id and self.audio_url:
            raise ValueError("give audio_asset_id or audio_url, not both")
        if not (self.audio_asset_id or self.audio_url or self.transcript):
            raise ValueError("one of audio_asset_id, audio_url or transcript is required")
        return self


async def run(ctx: JobContext) -> dict[str, Any]:
    params = AudioTranscribeInput.model_validate(ctx.input)
    runtime = ctx.runtime
    provider = require_provider(runtime.providers.asr, code="asr_unavailable", what="speech recognition",
                                setting="GENLOOM_ASR_PROVIDER")
    await ctx.set_phase("preparing", 0)
    request = AsrRequest(audio_url=params.audio_url, language=params.language, transcript_hint=params.transcript)
    if params.audio_asset_id:
        asset = await load_owned_asset(ctx, params.audio_asset_id, field="input.audio_asset_id",
                                       mime_prefixes=("audio/", "video/"), what="audio", max_bytes=MAX_AUDIO_BYTES)
        request.audio, request.audio_mime = asset.data, asset.mime
        signed = runtime.blobs.presign_get(asset.key, expires_s=AUDIO_URL_SECONDS)
        if signed.startswith(("http://", "https://")):  # a relative URL (no public base URL) is of no use upstream
            request.audio_url = signed

    await ctx.set_phase("transcribing", 20)
    result = await provider.transcribe(request)
    await ctx.report(99)
    return {"text": result.text, "provider": result.provider, "model": result.model}


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind(KIND, run, AudioTranscribeInput))
