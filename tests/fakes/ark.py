"""A fake Volcengine Ark server: Doubao chat (OpenAI-compatible, SSE too), vision through the same endpoint,
and Seedance content-generation tasks (create, get, list, cancel/delete) whose status moves
queued → running → succeeded over time, with the mp4 served from a signed-looking URL on the same port.

Switches (on :class:`ArkFake`): the shared ``fail``/``slow``/``malformed`` plan, ``fail_next_task`` (the next
task ends ``failed`` with a code and message), ``expire_results`` (result URLs answer 403 "Request has
expired"), ``reject_content`` (400 sensitive-content error on create/chat), ``chat_answer`` (what chat
answers), and the durations of each state. Image-to-video tasks read their first frame like Seedance does (a
data: URL decoded, an http URL fetched) and keep it in ``first_frames``.
"""

from __future__ import annotations

import base64
import functools
import io
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.openai_like import FakeState, Recorder, chat_completion, check_bearer, has_image

RATIOS = {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"}


def ark_error(status: int, code: str, message: str) -> dict[str, Any]:
    kind = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests",
            500: "InternalServiceError"}.get(status, "ServiceUnavailable")
    return {"error": {"code": code, "message": f"{message} Request id: 021{uuid.uuid4().hex[:20]}", "param": "",
                      "type": kind}}


@functools.lru_cache(maxsize=1)
def sample_mp4() -> bytes:
    """A real, tiny H.264 MP4 (so downloads are type-checked against genuine bytes)."""
    import av
    from PIL import Image

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (30 * i, 90, 200 - 20 * i)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


@dataclass
class ArkTask:
    id: str
    model: str
    body: dict[str, Any]
    created: float
    created_at: int
    failure: tuple[str, str] | None = None
    canceled: bool = False


@dataclass
class ArkFake(FakeState):
    queued_seconds: float = 0.15
    running_seconds: float = 0.25
    expire_results: bool = False
    reject_content: bool = False
    #: what Doubao chat answers instead of the default refined prompt (e.g. the JSON a story prompt asks for)
    chat_answer: str | None = None
    tasks: dict[str, ArkTask] = field(default_factory=dict)
    #: the first-frame picture of each task, as Seedance received it (decoded data: URL, or fetched http URL)
    first_frames: dict[str, bytes] = field(default_factory=dict)
    _next_failure: tuple[str, str] | None = None

    def default_code(self, status: int) -> str:
        return {429: "RateLimitExceeded.EndpointRPMExceeded", 503: "ServiceUnavailable"}.get(status, "InternalServiceError")

    def fail_next_task(self, code: str = "OutputVideoSensitiveContentDetected",
                       message: str = "The generated video may contain sensitive content.") -> None:
        self._next_failure = (code, message)

    def status_of(self, task: ArkTask) -> str:
        if task.canceled:
            return "cancelled"
        elapsed = time.monotonic() - task.created
        if elapsed < self.queued_seconds:
            return "queued"
        if elapsed < self.queued_seconds + self.running_seconds:
            return "running"
        return "failed" if task.failure else "succeeded"


def create_app(state: ArkFake) -> Recorder:
    def unauthorized(request: Request) -> Response | None:
        return check_bearer(request, state, lambda s, c, m: ark_error(s, "AuthenticationError", m))

    async def chat(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body = await request.json()
        if not body.get("model") or not body.get("messages"):
            return JSONResponse(ark_error(400, "MissingParameter", "model and messages are required."), 400)
        if state.reject_content:
            return JSONResponse(ark_error(400, "InputTextSensitiveContentDetected",
                                          "The request failed because the input text may contain sensitive information."), 400)
        if state.chat_answer is not None and not has_image(body.get("messages") or []):
            return JSONResponse({"id": f"0217{uuid.uuid4().hex[:20]}", "object": "chat.completion",
                                 "created": int(time.time()), "model": body["model"],
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": state.chat_answer},
                                              "logprobs": None, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 40, "completion_tokens": 60, "total_tokens": 100}})
        return chat_completion(body, id_prefix="0217")

    async def create_task(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body = await request.json()
        model = str(body.get("model") or "")
        if not model:
            return JSONResponse(ark_error(400, "MissingParameter", "The parameter `model` is required."), 400)
        if not (model.startswith("doubao-seedance") or model.startswith("ep-")):
            return JSONResponse(ark_error(404, "InvalidEndpointOrModel.NotFound",
                                          f"The model or endpoint {model} does not exist."), 404)
        problem = _check_content(body.get("content"))
        if problem:
            return JSONResponse(ark_error(400, "InvalidParameter", problem), 400)
        if state.reject_content:
            return JSONResponse(ark_error(400, "InputTextSensitiveContentDetected",
                                          "The request failed because the input text may contain sensitive information."), 400)
        frame = await _first_frame(body.get("content"))
        if isinstance(frame, str):
            return JSONResponse(ark_error(400, "InvalidParameter", frame), 400)
        task_id = f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:5]}"
        if frame is not None:
            state.first_frames[task_id] = frame
        state.tasks[task_id] = ArkTask(task_id, model, body, time.monotonic(), int(time.time()), state._next_failure)
        state._next_failure = None
        return JSONResponse({"id": task_id})

    def task_object(task: ArkTask, base: str) -> dict[str, Any]:
        status = state.status_of(task)
        obj: dict[str, Any] = {"id": task.id, "model": task.model, "status": status, "created_at": task.created_at,
                               "updated_at": int(time.time())}
        if status == "succeeded":
            obj["content"] = {"video_url": f"{base}/tos/{task.id}/video.mp4?X-Tos-Expires=86400&X-Tos-Signature=f4k3"}
            obj.update({"usage": {"completion_tokens": 246840, "total_tokens": 246840}, "seed": 58944,
                        "resolution": "720p", "ratio": "16:9", "duration": 5, "framespersecond": 24})
        elif status == "failed" and task.failure:
            obj["error"] = {"code": task.failure[0], "message": task.failure[1]}
        return obj

    def path_task(request: Request) -> ArkTask | Response:
        """The task named by the path, or the answer refusing the request (bad key, no such task)."""
        if (denied := unauthorized(request)) is not None:
            return denied
        task = state.tasks.get(request.path_params["task_id"])
        if task is None:
            return JSONResponse(ark_error(404, "ResourceNotFound", "The specified task is not found."), 404)
        return task

    async def get_task(request: Request) -> Response:
        task = path_task(request)
        if isinstance(task, Response):
            return task
        return JSONResponse(task_object(task, str(request.base_url).rstrip("/")))

    async def list_tasks(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        base = str(request.base_url).rstrip("/")
        wanted = request.query_params.get("filter.status")
        items = [task_object(t, base) for t in state.tasks.values()]
        if wanted:
            items = [i for i in items if i["status"] == wanted]
        return JSONResponse({"total": len(items), "items": items})

    async def delete_task(request: Request) -> Response:
        task = path_task(request)
        if isinstance(task, Response):
            return task
        status = state.status_of(task)
        if status == "queued":
            task.canceled = True
            return JSONResponse({})
        if status in ("running", "cancelled"):
            return JSONResponse(ark_error(400, "InvalidAction.TaskStatus",
                                          f"A task in status {status} cannot be cancelled or deleted."), 400)
        del state.tasks[task.id]
        return JSONResponse({})

    async def video(request: Request) -> Response:
        if state.expire_results:
            xml = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'
            return Response(xml, 403, media_type="application/xml")
        if request.path_params["task_id"] not in state.tasks:
            return Response(b"", 404)
        return Response(sample_mp4(), media_type="video/mp4")

    app = Starlette(routes=[
        Route("/api/v3/chat/completions", chat, methods=["POST"]),
        Route("/api/v3/contents/generations/tasks", create_task, methods=["POST"]),
        Route("/api/v3/contents/generations/tasks", list_tasks, methods=["GET"]),
        Route("/api/v3/contents/generations/tasks/{task_id}", get_task, methods=["GET"]),
        Route("/api/v3/contents/generations/tasks/{task_id}", delete_task, methods=["DELETE"]),
        Route("/tos/{task_id}/video.mp4", video, methods=["GET"]),
    ])
    return Recorder(app, state, ark_error)


async def _first_frame(content: Any) -> bytes | str | None:
    """The first-frame picture's bytes, as Seedance would read them: a data: URL decoded, an http(s) URL
    fetched (an answer other than a picture is the error text Ark gives for an unreadable image)."""
    for item in content if isinstance(content, list) else []:
        if not isinstance(item, dict) or item.get("type") != "image_url":
            continue
        if str(item.get("role") or "first_frame") != "first_frame":
            continue
        url = str((item.get("image_url") or {}).get("url", ""))
        if url.startswith("data:image/"):
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=True)
            except (IndexError, ValueError):
                return "The parameter `image_url.url` is not a valid base64 data URL."
        async with httpx.AsyncClient(timeout=10) as http:
            try:
                got = await http.get(url)
            except httpx.HTTPError:
                return f"The image at {url[:60]} cannot be downloaded."
        if got.status_code != 200 or not got.headers.get("content-type", "").startswith("image/"):
            return f"The image at {url[:60]} cannot be downloaded (HTTP {got.status_code})."
        return got.content
    return None


def _check_content(content: Any) -> str | None:
    if not isinstance(content, list) or not content:
        return "The parameter `content` must be a non-empty list."
    roles: list[str] = []
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            for flag, value in _commands(str(item.get("text", ""))):
                if flag in ("--ratio", "--rt") and value not in RATIOS:
                    return f"The parameter `ratio` specified in the request is not valid: {value}."
        elif kind == "image_url":
            url = str((item.get("image_url") or {}).get("url", ""))
            if not (url.startswith(("http://", "https://")) or url.startswith("data:image/")):
                return "The parameter `image_url.url` specified in the request is not valid."
            roles.append(str(item.get("role") or "first_frame"))
        else:
            return f"The content type {kind!r} is not supported."
    if "last_frame" in roles and "first_frame" not in roles:
        return "last_frame requires a first_frame image."
    return None


def _commands(text: str) -> list[tuple[str, str]]:
    parts = text.split()
    return [(parts[i], parts[i + 1]) for i in range(len(parts) - 1) if parts[i].startswith("--")]
