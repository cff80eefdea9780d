"""A fake DashScope (Model Studio) server: the OpenAI-compatible chat endpoint (JSON and SSE; vision and
qwen3-asr-flash through it too), Z-Image's synchronous multimodal-generation, Wan's async text2image tasks and
Paraformer file transcription (tasks move PENDING → RUNNING → SUCCEEDED over time), task query and cancel
(only while PENDING), and signed-looking result URLs served from the same port.

Switches (on :class:`DashScopeFake`): the shared ``fail``/``slow``/``malformed`` plan (native error bodies on
``/api/v1``, OpenAI-shaped ones on ``/compatible-mode``), ``fail_next_task(code, message)`` (the next task ends
FAILED with that reason), ``expire_results`` (result URLs answer 403 like an expired OSS signature), and
``pending_seconds`` / ``running_seconds``.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import io
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.openai_like import FakeState, Fault, Recorder, chat_completion

_PATH: contextvars.ContextVar[str] = contextvars.ContextVar("dashscope_fake_path", default="")


def native_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}


def compat_error(status: int, code: str, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "limit_requests"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}, "request_id": str(uuid.uuid4())}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    if _PATH.get().startswith("/compatible-mode"):
        return compat_error(status, code, message)
    return native_error(status, code, message)


def render_png(prompt: str, width: int, height: int) -> bytes:
    """A deterministic picture for a prompt (real PNG bytes, so type checks and thumbnails see a real image)."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(prompt.encode()).digest()
    img = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(digest[3], digest[4], digest[5]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class DashTask:
    id: str
    kind: str  # image | asr
    model: str
    body: dict[str, Any]
    created: float
    failure: tuple[str, str] | None = None
    canceled: bool = False


@dataclass
class DashScopeFake(FakeState):
    pending_seconds: float = 0.1
    running_seconds: float = 0.2
    expire_results: bool = False
    tasks: dict[str, DashTask] = field(default_factory=dict)
    images: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # result id -> prompt, w, h
    _next_failure: tuple[str, str] | None = None

    def default_code(self, status: int) -> str:
        if _PATH.get().startswith("/compatible-mode"):
            return {429: "limit_requests", 401: "invalid_api_key"}.get(status, "internal_error")
        return {429: "Throttling.RateQuota", 408: "RequestTimeOut", 401: "InvalidApiKey"}.get(status, "InternalError")

    def fail(self, status: int = 500, *, times: int = 1, retry_after: float | None = None, code: str | None = None,
             message: str | None = None, path: str = "", method: str = "") -> None:
        # the default code depends on the request path, so it is chosen when the fault fires (see DashRecorder)
        self.faults.append(Fault("status", status=status, code=code or "", message=message or f"fake failure {status}",
                                 retry_after=retry_after, path=path, method=method, times=times))

    def fail_next_task(self, code: str = "DataInspectionFailed",
                       message: str = "Output data may contain inappropriate content.") -> None:
        self._next_failure = (code, message)

    def status_of(self, task: DashTask) -> str:
        elapsed = time.monotonic() - task.created
        if task.canceled:
            return "CANCELED"
        if elapsed < self.pending_seconds:
            return "PENDING"
        if elapsed < self.pending_seconds + self.running_seconds:
            return "RUNNING"
        return "FAILED" if task.failure else "SUCCEEDED"


class DashRecorder(Recorder):
    """Remembers the request path so fault bodies take the native or compatible-mode shape."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _PATH.set(scope.get("path", ""))
        await super().__call__(scope, receive, send)

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "status" and not fault.code:
            fault.code = self.state.default_code(fault.status)
        return super()._fault_response(fault)


def create_app(state: DashScopeFake) -> Recorder:
    def denied(request: Request) -> Response | None:
        if request.headers.get("authorization") == f"Bearer {state.api_key}":
            return None
        if request.url.path.startswith("/compatible-mode"):
            body = compat_error(401, "invalid_api_key", "Incorrect API key provided. ")
        else:
            body = native_error(401, "InvalidApiKey", "Invalid API-key provided.")
        return JSONResponse(body, 401)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def result_url(request: Request, prompt: str, width: int, height: int) -> str:
        rid = uuid.uuid4().hex
        state.images[rid] = (prompt, width, height)
        expires = int(time.time()) + 86400
        return f"{base(request)}/oss/{rid}.png?Expires={expires}&OSSAccessKeyId=fake&Signature=f4k3"

    def parse_size(value: Any, *, low: int, high: int) -> tuple[int, int] | None:
        try:
            w, h = (int(p) for p in str(value).split("*"))
        except ValueError:
            return None
        return (w, h) if low * low <= w * h <= high * high else None

    async def chat(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        body = await request.json()
        if not body.get("model") or not body.get("messages"):
            return JSONResponse(compat_error(400, "invalid_parameter_error", "model and messages are required"), 400)
        if str(body["model"]).startswith("qwen3-asr"):
            return _asr_reply(body)
        return chat_completion(body)

    async def zimage(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        if request.headers.get("x-dashscope-async") == "enable":
            return JSONResponse(native_error(403, "AccessDenied", "current user api does not support asynchronous calls"), 403)
        body = await request.json()
        try:
            text = body["input"]["messages"][0]["content"][0]["text"]
        except (KeyError, IndexError, TypeError):
            return JSONResponse(native_error(400, "InvalidParameter", "input.messages is required"), 400)
        size = parse_size((body.get("parameters") or {}).get("size", "1024*1024"), low=512, high=2048)
        if size is None:
            return JSONResponse(native_error(400, "InvalidParameter",
                                             "The size is out of range [512*512, 2048*2048]."), 400)
        url = result_url(request, text, *size)
        return JSONResponse({
            "output": {"choices": [{"finish_reason": "stop", "message": {
                "role": "assistant", "content": [{"image": url}, {"text": text}], "reasoning_content": ""}}]},
            "usage": {"width": size[0], "height": size[1], "image_count": 1},
            "request_id": str(uuid.uuid4()),
        })

    def new_task(kind: str, body: dict[str, Any]) -> Response:
        task = DashTask(str(uuid.uuid4()), kind, str(body.get("model")), body, time.monotonic(), state._next_failure)
        state._next_failure = None
        state.tasks[task.id] = task
        return JSONResponse({"request_id": str(uuid.uuid4()),
                             "output": {"task_id": task.id, "task_status": "PENDING"}})

    def refuse_task(request: Request) -> Response | None:
        """The answer refusing a task submission (bad key, or not sent as an async call), or None."""
        if (no := denied(request)) is not None:
            return no
        if request.headers.get("x-dashscope-async") != "enable":
            return JSONResponse(native_error(403, "AccessDenied", "current user api does not support synchronous calls"), 403)
        return None

    async def wan(request: Request) -> Response:
        if (no := refuse_task(request)) is not None:
            return no
        body = await request.json()
        prompt = (body.get("input") or {}).get("prompt")
        if not prompt:
            return JSONResponse(native_error(400, "InvalidParameter", "input.prompt is required"), 400)
        params = body.get("parameters") or {}
        if parse_size(params.get("size", "1024*1024"), low=512, high=1440) is None:
            return JSONResponse(native_error(400, "InvalidParameter", "The size is out of range."), 400)
        if not 1 <= int(params.get("n", 4)) <= 4:
            return JSONResponse(native_error(400, "InvalidParameter", "n must be between 1 and 4"), 400)
        return new_task("image", body)

    async def transcription(request: Request) -> Response:
        if (no := refuse_task(request)) is not None:
            return no
        body = await request.json()
        if not (body.get("input") or {}).get("file_urls"):
            return JSONResponse(native_error(400, "InvalidParameter", "input.file_urls is required"), 400)
        return new_task("asr", body)

    def finished_output(request: Request, task: DashTask) -> dict[str, Any]:
        if task.kind == "asr":
            results = [{"file_url": u, "transcription_url": f"{base(request)}/transcripts/{task.id}.json?Expires=1",
                        "subtask_status": "SUCCEEDED"} for u in task.body["input"]["file_urls"]]
            return {"results": results, "task_metrics": {"TOTAL": len(results), "SUCCEEDED": len(results), "FAILED": 0}}
        params = task.body.get("parameters") or {}
        w, h = (int(p) for p in str(params.get("size", "1024*1024")).split("*"))
        prompt = task.body["input"]["prompt"]
        n = int(params.get("n", 4))
        results = [{"orig_prompt": prompt, "actual_prompt": prompt, "url": result_url(request, f"{prompt}#{i}", w, h)}
                   for i in range(n)]
        return {"results": results, "task_metrics": {"TOTAL": n, "SUCCEEDED": n, "FAILED": 0}}

    async def get_task(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        task = state.tasks.get(request.path_params["task_id"])
        if task is None:
            return JSONResponse({"request_id": str(uuid.uuid4()),
                                 "output": {"task_id": request.path_params["task_id"], "task_status": "UNKNOWN"}})
        status = state.status_of(task)
        output: dict[str, Any] = {"task_id": task.id, "task_status": status, "submit_time": "2026-01-01 00:00:00.000"}
        if status == "SUCCEEDED":
            output.update(finished_output(request, task))
        elif status == "FAILED" and task.failure:
            output["code"], output["message"] = task.failure
        return JSONResponse({"request_id": str(uuid.uuid4()), "output": output})

    async def cancel_task(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        task = state.tasks.get(request.path_params["task_id"])
        if task is None or state.status_of(task) != "PENDING":
            return JSONResponse(native_error(400, "UnsupportedOperation",
                                             "Failed to cancel the task, please confirm if the task is in PENDING status."), 400)
        task.canceled = True
        return JSONResponse({"request_id": str(uuid.uuid4())})

    async def oss(request: Request) -> Response:
        rid = request.path_params["rid"]
        if state.expire_results or rid not in state.images:
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                   "<Message>Request has expired.</Message></Error>")
            return Response(xml, 403, media_type="application/xml")
        prompt, w, h = state.images[rid]
        return Response(render_png(prompt, w, h), media_type="image/png")

    async def transcript(request: Request) -> Response:
        task = state.tasks.get(request.path_params["task_id"])
        if task is None or state.expire_results:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403, media_type="application/xml")
        doc = {"file_url": task.body["input"]["file_urls"][0], "properties": {"audio_format": "wav"},
               "transcripts": [{"channel_id": 0, "content_duration_in_milliseconds": 1200, "text": "你好，世界。",
                                "sentences": [{"begin_time": 0, "end_time": 1200, "text": "你好，世界。", "sentence_id": 1}]}]}
        return Response(json.dumps(doc, ensure_ascii=False), media_type="application/json")

    app = Starlette(routes=[
        Route("/compatible-mode/v1/chat/completions", chat, methods=["POST"]),
        Route("/api/v1/services/aigc/multimodal-generation/generation", zimage, methods=["POST"]),
        Route("/api/v1/services/aigc/text2image/image-synthesis", wan, methods=["POST"]),
        Route("/api/v1/services/audio/asr/transcription", transcription, methods=["POST"]),
        Route("/api/v1/tasks/{task_id}", get_task, methods=["GET"]),
        Route("/api/v1/tasks/{task_id}/cancel", cancel_task, methods=["POST"]),
        Route("/oss/{rid}.png", oss, methods=["GET"]),
        Route("/transcripts/{task_id}.json", transcript, methods=["GET"]),
    ])
    return DashRecorder(app, state, error_body)


def _asr_reply(body: dict[str, Any]) -> Response:
    """qwen3-asr-flash: the 'transcript' names the audio's size and digest (deterministic, checkable)."""
    try:
        part = body["messages"][-1]["content"][0]["input_audio"]["data"]
        audio = base64.b64decode(str(part).split(",", 1)[1])
    except (KeyError, IndexError, TypeError, ValueError):
        return JSONResponse(compat_error(400, "invalid_parameter_error", "input_audio is required"), 400)
    text = f"audio {len(audio)} bytes {hashlib.sha256(audio).hexdigest()[:8]}"
    return JSONResponse({"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                         "created": int(time.time()), "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {
                             "role": "assistant", "content": text,
                             "annotations": [{"type": "audio_info", "language": "zh", "emotion": "neutral"}]}}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
