"""A fake OpenAI API: chat completions (JSON and SSE), image generation (``b64_json`` or a short-lived URL
served by the same server) and audio transcription (multipart).

Switches (on :class:`OpenAIFake`): the shared ``fail``/``slow``/``malformed`` plan, ``moderation_block``
(400 ``moderation_blocked`` on images), ``stream_error`` (a chat stream that breaks with an error data line),
``expire_results`` (image URLs answer 403), and ``transcript`` (the text transcriptions return).
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.openai_like import FakeState, Recorder, chat_completion, check_bearer, stream_error_midway

SIZES = {
    "gpt-image-1": {"1024x1024", "1536x1024", "1024x1536", "auto"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
AUDIO_TYPES = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}


def openai_error(status: int, code: str, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}.get(status, "server_error")
    if code == "insufficient_quota":
        kind = "insufficient_quota"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def render_png(prompt: str, width: int, height: int) -> bytes:
    from PIL import Image

    digest = hashlib.sha256(prompt.encode()).digest()
    img = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class OpenAIFake(FakeState):
    moderation_block: bool = False
    stream_error: bool = False
    expire_results: bool = False
    transcript: str = "Once upon a time there was a little fox."
    images: dict[str, bytes] = field(default_factory=dict)


def create_app(state: OpenAIFake) -> Recorder:
    def bad(message: str, code: str = "invalid_value", status: int = 400) -> JSONResponse:
        return JSONResponse(openai_error(status, code, message), status)

    async def chat(request: Request) -> Response:
        if (denied := check_bearer(request, state, openai_error)) is not None:
            return denied
        body = await request.json()
        if not body.get("model"):
            return bad("you must provide a model parameter", "missing_required_parameter")
        if not body.get("messages"):
            return bad("'messages' is a required property", "missing_required_parameter")
        if body.get("stream") and state.stream_error:
            return stream_error_midway(body, {"message": "The server had an error while processing your request.",
                                              "type": "server_error", "param": None, "code": None})
        return chat_completion(body)

    async def images(request: Request) -> Response:
        if (denied := check_bearer(request, state, openai_error)) is not None:
            return denied
        body = await request.json()
        prompt = body.get("prompt")
        model = str(body.get("model") or "dall-e-2")
        if not prompt:
            return bad("'prompt' is a required property", "missing_required_parameter")
        if model not in SIZES:
            return bad(f"The model `{model}` does not exist or you do not have access to it.", "model_not_found", 404)
        size = str(body.get("size") or ("auto" if model == "gpt-image-1" else "1024x1024"))
        if size not in SIZES[model]:
            return bad(f"Invalid value: '{size}'. Supported values are: {sorted(SIZES[model])}.")
        if model == "gpt-image-1" and "response_format" in body:
            return bad("Unknown parameter: 'response_format'.", "unknown_parameter")
        n = int(body.get("n") or 1)
        if n < 1 or n > 10 or (model == "dall-e-3" and n != 1):
            return bad("Invalid 'n': must be between 1 and 10 (dall-e-3: 1).")
        if state.moderation_block:
            return bad("Your request was rejected as a result of our safety system.", "moderation_blocked")
        width, height = (1024, 1024) if size == "auto" else (int(p) for p in size.split("x"))
        as_url = model != "gpt-image-1" and body.get("response_format", "url") == "url"
        base = str(request.base_url).rstrip("/")
        data = []
        for i in range(n):
            png = render_png(f"{prompt}#{i}", width, height)
            if as_url:
                key = uuid.uuid4().hex
                state.images[key] = png
                data.append({"url": f"{base}/blob/img-{key}.png?se=2099-01-01&sig=f4k3",
                             "revised_prompt": f"{prompt}, detailed"})
            else:
                data.append({"b64_json": base64.b64encode(png).decode()})
        return JSONResponse({"created": int(time.time()), "data": data,
                             "usage": {"total_tokens": 100, "input_tokens": 50, "output_tokens": 50}})

    async def blob(request: Request) -> Response:
        if state.expire_results:
            return Response(b"<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has passed</Message></Error>",
                            403, media_type="application/xml")
        png = state.images.get(request.path_params["key"])
        return Response(png, media_type="image/png") if png else Response(b"", 404)

    async def transcriptions(request: Request) -> Response:
        if (denied := check_bearer(request, state, openai_error)) is not None:
            return denied
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return bad("Invalid Content-Type header, expected multipart/form-data.", "invalid_request")
        form = await request.form()
        upload = form.get("file")
        model = form.get("model")
        if not isinstance(upload, UploadFile):
            return bad("Missing required parameter: 'file'.", "missing_required_parameter")
        if not model:
            return bad("Missing required parameter: 'model'.", "missing_required_parameter")
        ext = (upload.filename or "").rsplit(".", 1)[-1].lower()
        if ext not in AUDIO_TYPES:
            return bad(f"Invalid file format. Supported formats: {sorted(AUDIO_TYPES)}", "invalid_value")
        data = await upload.read()
        if not data:
            return bad("Audio file is empty.", "invalid_value")
        fmt = form.get("response_format") or "json"
        if fmt == "text":
            return PlainTextResponse(state.transcript)
        return JSONResponse({"text": state.transcript, "usage": {"type": "duration", "seconds": 3}})

    app = Starlette(routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/images/generations", images, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/blob/img-{key}.png", blob, methods=["GET"]),
    ])
    return Recorder(app, state, openai_error)
