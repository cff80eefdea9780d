"""A fake of seed 002's "make" image API, speaking the TalesofAI/Neta ``make_image`` protocol:
``POST /v3/make_image`` (``x-token`` header) answers the task UUID as a bare JSON string; ``GET
/v1/artifact/task/{uuid}`` walks ``PENDING → MODERATION → SUCCESS`` over time with ``artifacts[].url`` on a
result host on the same port. The seed's placeholder shape is served too: ``POST /v1/generate`` →
``{"data":{"task_uuid":…}}`` and ``GET /v1/tasks/{uuid}`` → ``{"status":"completed","url":…}``.

Switches (on :class:`MakeFake`): the shared ``fail``/``slow``/``malformed`` plan, ``fail_next_task(status,
error)`` (e.g. ``FAILURE`` or ``ILLEGAL_IMAGE``), ``empty_success_polls`` (SUCCESS without artifacts first),
``expire_results``, ``pending_seconds`` / ``moderation_seconds``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.dashscope import render_png
from tests.fakes.openai_like import FakeState, Recorder


def make_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


@dataclass
class MakeTask:
    id: str
    body: dict[str, Any]
    created: float
    failure: tuple[str, str] | None = None
    polls_at_success: int = 0


@dataclass
class MakeFake(FakeState):
    pending_seconds: float = 0.1
    moderation_seconds: float = 0.1
    empty_success_polls: int = 0
    expire_results: bool = False
    tasks: dict[str, MakeTask] = field(default_factory=dict)
    _next_failure: tuple[str, str] | None = None

    def default_code(self, status: int) -> str:
        return {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "InternalError")

    def fail_next_task(self, status: str = "FAILURE", error: str = "generation failed: out of memory") -> None:
        self._next_failure = (status, error)

    def status_of(self, task: MakeTask) -> str:
        elapsed = time.monotonic() - task.created
        if elapsed < self.pending_seconds:
            return "PENDING"
        if elapsed < self.pending_seconds + self.moderation_seconds:
            return "MODERATION"
        return task.failure[0] if task.failure else "SUCCESS"


def _prompt(body: dict[str, Any]) -> str:
    raw = body.get("rawPrompt")
    if isinstance(raw, list):
        return " ".join(str(p.get("value", "")) for p in raw if isinstance(p, dict))
    prompts = body.get("prompts")
    return " ".join(str(p) for p in prompts) if isinstance(prompts, list) else ""


def create_app(state: MakeFake) -> Recorder:
    def denied(request: Request) -> Response | None:
        token = request.headers.get("x-token") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if token != state.api_key:
            return JSONResponse(make_error(401, "Unauthorized", "invalid token"), 401)
        return None

    async def submit(request: Request) -> MakeTask | Response:
        if (no := denied(request)) is not None:
            return no
        body = await request.json()
        if not _prompt(body).strip():
            return JSONResponse(make_error(400, "InvalidParameter", "a prompt is required"), 400)
        for name in ("width", "height"):
            if not isinstance(body.get(name), int) or not 64 <= body[name] <= 2048:
                return JSONResponse(make_error(400, "InvalidParameter", f"{name} must be 64-2048"), 400)
        task = MakeTask(str(uuid.uuid4()), body, time.monotonic(), state._next_failure)
        state._next_failure = None
        state.tasks[task.id] = task
        return task

    async def make_image(request: Request) -> Response:
        got = await submit(request)
        return got if isinstance(got, Response) else JSONResponse(got.id)

    async def generate(request: Request) -> Response:
        got = await submit(request)
        return got if isinstance(got, Response) else JSONResponse({"data": {"task_uuid": got.id}})

    def task_state(request: Request) -> tuple[MakeTask, str, str | None] | Response:
        """The polled task, its status and its image URL once ready; or the answer refusing the poll."""
        if (no := denied(request)) is not None:
            return no
        task = state.tasks.get(request.path_params["task_id"])
        if task is None:
            return JSONResponse(make_error(404, "NotFound", "task not found"), 404)
        status = state.status_of(task)
        url = None
        if status == "SUCCESS":
            task.polls_at_success += 1
            if task.polls_at_success > state.empty_success_polls:
                url = f"{str(request.base_url).rstrip('/')}/files/{task.id}.png?exp={int(time.time()) + 3600}"
        return task, status, url

    async def artifact(request: Request) -> Response:
        if isinstance(polled := task_state(request), Response):
            return polled
        task, status, url = polled
        body: dict[str, Any] = {"task_uuid": task.id, "task_status": status,
                                "artifacts": [{"url": url, "status": "SUCCESS"}] if url else []}
        if task.failure and status == task.failure[0]:
            body["error"] = task.failure[1]
        return JSONResponse(body)

    async def simple_task(request: Request) -> Response:
        if isinstance(polled := task_state(request), Response):
            return polled
        task, status, url = polled
        word = {"SUCCESS": "completed", "PENDING": "pending", "MODERATION": "processing"}.get(status, "failed")
        body: dict[str, Any] = {"uuid": task.id, "status": word if url or status != "SUCCESS" else "processing"}
        if url:
            body["url"] = url
        if task.failure and status == task.failure[0]:
            body["error"] = task.failure[1]
        return JSONResponse(body)

    async def files(request: Request) -> Response:
        task = state.tasks.get(request.path_params["task_id"])
        if task is None or state.expire_results:
            return JSONResponse(make_error(403, "AccessDenied", "the link has expired"), 403)
        return Response(render_png(_prompt(task.body), int(task.body["width"]), int(task.body["height"])),
                        media_type="image/png")

    app = Starlette(routes=[
        Route("/v3/make_image", make_image, methods=["POST"]),
        Route("/v1/artifact/task/{task_id}", artifact, methods=["GET"]),
        Route("/v1/generate", generate, methods=["POST"]),
        Route("/v1/tasks/{task_id}", simple_task, methods=["GET"]),
        Route("/files/{task_id}.png", files, methods=["GET"]),
    ])
    return Recorder(app, state, make_error)
