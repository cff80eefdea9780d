"""OpenAI image generation (``POST /images/generations``) and audio transcription
(``POST /audio/transcriptions``, multipart).

gpt-image-1 always answers ``b64_json`` and refuses ``response_format``; dall-e models answer URLs valid for
60 minutes unless asked for ``b64_json``. URLs are downloaded at once (never handed to clients). Sizes are
snapped to the nearest size the model supports.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from genloom.providers.base import (
    AsrRequest,
    AsrResult,
    GeneratedMedia,
    ImageRequest,
    ImageResult,
    ProgressFn,
    ProviderError,
)
from genloom.providers.download import download
from genloom.providers.openai.compat import CompatService
from genloom.storage.mime import sniff_mime

SIZES = {
    "gpt-image-1": ["1024x1024", "1536x1024", "1024x1536"],
    "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
    "dall-e-2": ["256x256", "512x512", "1024x1024"],
}
MAX_N = {"dall-e-3": 1}
AUDIO_EXTENSIONS = {
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
    "audio/webm": "webm", "audio/ogg": "ogg", "audio/flac": "flac", "audio/x-flac": "flac", "audio/mp4": "m4a",
    "audio/m4a": "m4a", "audio/x-m4a": "m4a", "video/mp4": "mp4", "video/webm": "webm",
}


def nearest_size(model: str, width: int, height: int) -> str:
    """The supported size closest in aspect ratio (then area) to the requested one."""
    options = SIZES.get(model)
    if not options:
        return f"{width}x{height}"
    want = width / max(1, height)

    def distance(option: str) -> tuple[float, float]:
        w, h = (int(p) for p in option.split("x"))
        return abs(w / h - want), abs(w * h - width * height)

    return min(options, key=distance)


class OpenAIImage(CompatService):
    """ImageProvider: gpt-image-1, dall-e-3, dall-e-2."""

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult:
        model = request.model or self.model
        body: dict[str, Any] = {"model": model, "prompt": request.prompt,
                                "size": nearest_size(model, request.width, request.height),
                                "n": max(1, min(request.count, MAX_N.get(model, 10)))}
        if request.negative_prompt:
            # the API has no negative prompt; say it in words rather than drop it silently
            body["prompt"] = f"{request.prompt}\nAvoid: {request.negative_prompt}"
        if model.startswith("dall-e"):
            # bytes in the answer: nothing to fetch later from a URL that expires in an hour
            body["response_format"] = request.extra.get("response_format", "b64_json")
        body.update({k: v for k, v in request.extra.items() if k in ("quality", "style", "background",
                                                                       "output_format", "moderation")})
        if progress is not None:
            await progress(0.1, "generating")
        # creating an image is billed: never resubmitted after a read timeout (the guard knows)
        data = await self.client.post("image.generate", "/images/generations", json=body, idempotent=False)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise self.client.bad_response("the image answer has no data")
        if progress is not None:
            await progress(0.8, "downloading")
        images: list[GeneratedMedia] = []
        revised: str | None = None
        for item in items:
            revised = revised or item.get("revised_prompt")
            images.append(await self._media(item))
        return ImageResult(images=images, provider=self.name, model=model, revised_prompt=revised)

    async def _media(self, item: dict[str, Any]) -> GeneratedMedia:
        if item.get("b64_json"):
            try:
                raw = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise self.client.bad_response("b64_json was not valid base64") from None
            mime = sniff_mime(raw[:64]) or ""
            if not mime.startswith("image/"):
                raise self.client.bad_response(f"b64_json decoded to {mime or 'unknown bytes'}, not an image")
            return GeneratedMedia(data=raw, mime=mime)
        if item.get("url"):
            # no client passed: a fresh one, so the result host never sees our Authorization header
            got = await download(str(item["url"]), settings=self.client.settings, guard=self.client.guard,
                                 accept=("image/",), operation="image.download")
            return GeneratedMedia(data=got.data, mime=got.mime)
        raise self.client.bad_response("an image item has neither b64_json nor url")


class OpenAIAsr(CompatService):
    """AsrProvider: whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe."""

    async def transcribe(self, request: AsrRequest) -> AsrResult:
        audio, mime = request.audio, (request.audio_mime or "").split(";")[0].strip().lower()
        if audio is None and request.audio_url:
            got = await download(request.audio_url, settings=self.client.settings, guard=self.client.guard,
                                 accept=("audio/", "video/"), operation="asr.download")
            audio, mime = got.data, got.mime
        if not audio:
            raise ProviderError(f"{self.name}: no audio to transcribe", provider=self.name, code="asr_no_audio",
                                retryable=False)
        extension = AUDIO_EXTENSIONS.get(mime, "wav")
        form: dict[str, str] = {"model": self.model, "response_format": "json"}
        if request.language:
            form["language"] = request.language.split("-")[0]
        files = {"file": (f"audio.{extension}", audio, mime or "application/octet-stream")}
        data = await self.client.post("asr.transcribe", "/audio/transcriptions", data=form, files=files)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise self.client.bad_response("the transcription answer has no text")
        return AsrResult(text=text.strip(), provider=self.name, model=self.model)
