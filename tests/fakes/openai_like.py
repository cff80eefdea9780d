"""Pieces shared by the fakes of OpenAI-compatible providers (OpenAI itself, Ark): fault injection, a request
log, and the chat-completions protocol (JSON and SSE chunks ending with ``data: [DONE]``).

A fake is a Starlette app wrapped by :class:`Recorder`, which logs every request and applies the next planned
fault (an error status with the provider's error body and ``Retry-After``, a slow response, malformed JSON)
before the route runs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorBody = Callable[[int, str, str], dict[str, Any]]


@dataclass
class Fault:
    """One planned misbehaviour, applied to the next ``times`` requests whose path contains ``path``."""

    kind: str  #: status | slow | malformed
    status: int = 500
    code: str = "InternalServiceError"
    message: str = "The service encountered an unexpected internal error."
    retry_after: float | None = None
    seconds: float = 0.0
    path: str = ""
    method: str = ""
    times: int = 1
    #: time.monotonic() deadline: the fault applies to every matching request until then (``times`` unused)
    until: float | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeState:
    """What every fake keeps: the fault plan and the requests it saw."""

    api_key: str = "test-key"
    faults: list[Fault] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def fail(self, status: int = 500, *, times: int = 1, retry_after: float | None = None, code: str | None = None,
             message: str | None = None, path: str = "", method: str = "") -> None:
        """The next ``times`` matching requests answer ``status`` with the provider's error body."""
        self.faults.append(Fault("status", status=status, code=code or self.default_code(status),
                                 message=message or f"fake failure {status}", retry_after=retry_after,
                                 path=path, method=method, times=times))

    def default_code(self, status: int) -> str:
        """The provider's error code for a bare status (fakes override it)."""
        return {429: "rate_limit_exceeded", 503: "service_unavailable"}.get(status, "server_error")

    def fail_for(self, seconds: float, status: int = 503, *, code: str | None = None, message: str | None = None,
                 path: str = "", method: str = "") -> None:
        """Every matching request answers ``status`` for the next ``seconds`` (an outage, then recovery)."""
        self.faults.append(Fault("status", status=status, code=code or self.default_code(status),
                                 message=message or f"fake outage {status}", path=path, method=method,
                                 until=time.monotonic() + seconds))

    def slow(self, seconds: float, *, times: int = 1, path: str = "", method: str = "") -> None:
        """The next ``times`` matching requests wait ``seconds`` before the route answers."""
        self.faults.append(Fault("slow", seconds=seconds, path=path, method=method, times=times))

    def malformed(self, *, times: int = 1, path: str = "", method: str = "") -> None:
        """The next ``times`` matching requests answer 200 with a body that is not JSON."""
        self.faults.append(Fault("malformed", path=path, method=method, times=times))

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.until is not None and time.monotonic() >= fault.until:
                self.faults.remove(fault)  # the outage is over
                continue
            if fault.path in path and (not fault.method or fault.method == method):
                if fault.until is not None:
                    return fault
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def seen(self, method: str, path_part: str = "") -> list[Seen]:
        return [r for r in self.requests if r.method == method and path_part in r.path]


class Recorder:
    """ASGI wrapper: log the request, then apply the next planned fault or run the app."""

    def __init__(self, app: ASGIApp, state: FakeState, error_body: ErrorBody) -> None:
        self.app = app
        self.state = state
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        self.state.requests.append(Seen(method, path, scope.get("query_string", b"").decode(), headers, body))

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            # after the body, wait for the real disconnect (a streaming response listens for it meanwhile)
            return await receive()

        fault = self.state.take_fault(method, path)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            response = self._fault_response(fault)
            await response(scope, replay, send)
            return
        await self.app(scope, replay, send)

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "malformed":
            return Response(b'{"id": "trunc', media_type="application/json")
        headers = {"x-request-id": uuid.uuid4().hex}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return JSONResponse(self.error_body(fault.status, fault.code, fault.message), fault.status, headers=headers)


def check_bearer(request: Request, state: FakeState, error_body: ErrorBody) -> Response | None:
    """401 unless ``Authorization: Bearer <state.api_key>``."""
    if request.headers.get("authorization") != f"Bearer {state.api_key}":
        return JSONResponse(error_body(401, "invalid_api_key", "Incorrect API key provided."), 401)
    return None


# --- chat completions -------------------------------------------------------------------------------------------


def user_text(messages: list[dict[str, Any]]) -> str:
    """The last user message's text (content may be a string or a list of parts)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def has_image(messages: list[dict[str, Any]]) -> bool:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "image_url" for p in content):
            return True
    return False


def chat_reply(body: dict[str, Any]) -> str:
    """A deterministic answer: vision requests get a JSON analysis, text gets a refined prompt."""
    messages = body.get("messages") or []
    if has_image(messages):
        return json.dumps({"summary": "a bright drawing of a house under a sun", "scores": {"color": 8, "composition": 7},
                           "instruction_echo": user_text(messages)[:40]}, ensure_ascii=False)
    return f"refined: {user_text(messages)}"


def chat_completion(body: dict[str, Any], *, id_prefix: str = "chatcmpl-") -> Response:
    """Answer a chat-completions request in the OpenAI format, as JSON or as SSE chunks."""
    model = str(body.get("model") or "")
    reply = chat_reply(body)
    cid = f"{id_prefix}{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    usage = {"prompt_tokens": 12, "completion_tokens": len(reply.split()), "total_tokens": 12 + len(reply.split())}
    if not body.get("stream"):
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": usage,
        })
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], "usage": None}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def events() -> Any:
        yield chunk({"role": "assistant", "content": ""}, None)
        words = reply.split(" ")
        for i, word in enumerate(words):
            await asyncio.sleep(0)
            yield chunk({"content": word if i == 0 else " " + word}, None)
        yield chunk({}, "stop")
        if include_usage:
            final = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": usage}
            yield f"data: {json.dumps(final)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def stream_error_midway(body: dict[str, Any], error: dict[str, Any]) -> Response:
    """A stream that starts, then reports an error as an SSE data line (clients must check for it)."""

    async def events() -> Any:
        first = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": body.get("model"), "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"},
                                                          "finish_reason": None}]}
        yield f"data: {json.dumps(first)}\n\n"
        yield f"data: {json.dumps({'error': error})}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
