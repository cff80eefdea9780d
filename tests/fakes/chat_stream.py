"""A fake OpenAI-compatible chat server for streaming tests: each streamed reply is a script of pieces sent one
by one with a pause between them, so a test can see pieces arrive while the rest is still unsent; it records
every request and notices when a client closes a stream early (a canceled reply).

    state = ChatStreamFake(pieces=["Hel", "lo"], delay=0.05)
    with FakeServer(create_app(state)) as server: ...   # base URL: server.url + "/v1"
    state.sent / state.aborted / state.fail(503)

With ``gated=True`` each piece waits for a :meth:`ChatStreamFake.release` (from any thread): a test that releases
the next piece only once the previous one reached its client proves the pieces are not held back anywhere on
the way — with a buffer in between the first piece never arrives, the next is never released, and the stream
ends short after ``gate_timeout``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai import openai_error
from tests.fakes.openai_like import FakeState, Recorder, check_bearer


@dataclass
class ChatStreamFake(FakeState):
    pieces: list[str] = field(default_factory=lambda: ["Hello", ", ", "writer", "!"])
    delay: float = 0.0
    #: the answer to non-streamed calls (summaries)
    summary: str = "The writer asked about the opening."
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 50, "completion_tokens": 4})
    #: (monotonic time, piece) of each piece written to a stream
    sent: list[tuple[float, str]] = field(default_factory=list)
    aborted: int = 0
    finished: int = 0
    gated: bool = False
    gate_timeout: float = 60.0
    _gate: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def release(self, pieces: int = 1) -> None:
        """Let ``pieces`` more pieces of a gated stream go out."""
        self._gate.release(pieces)

    async def wait_for_release(self) -> bool:
        # polled, not a blocking acquire in a thread: a stream closed while it waits leaves nothing behind
        deadline = time.monotonic() + self.gate_timeout
        while not self._gate.acquire(blocking=False):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True


def create_app(state: ChatStreamFake) -> Recorder:
    async def chat(request: Request) -> Response:
        if (denied := check_bearer(request, state, openai_error)) is not None:
            return denied
        body = await request.json()
        model = str(body.get("model") or "")
        if not body.get("stream"):
            return JSONResponse({"id": "chatcmpl-s", "object": "chat.completion", "created": int(time.time()),
                                 "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                     "role": "assistant", "content": state.summary}}],
                                 "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}})

        def chunk(delta: dict[str, Any], finish: str | None, usage: dict[str, int] | None = None) -> str:
            data = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
                    "usage": usage}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        async def events() -> Any:
            try:
                yield chunk({"role": "assistant", "content": ""}, None)
                for piece in state.pieces:
                    if state.delay:
                        await asyncio.sleep(state.delay)
                    if state.gated and not await state.wait_for_release():
                        return  # never released: the stream ends short (no [DONE]), and the test fails
                    state.sent.append((time.monotonic(), piece))
                    yield chunk({"content": piece}, None)
                yield chunk({}, "stop")
                yield chunk({}, None, {**state.usage, "total_tokens": sum(state.usage.values())})
                yield "data: [DONE]\n\n"
                state.finished += 1
            except (asyncio.CancelledError, GeneratorExit):
                state.aborted += 1
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    return Recorder(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]), state, openai_error)
