"""The status-polling fast path: a few ``GET …/{job_id}`` routes answered without routing.

Every client polls these, so they dominate the request mix. Starlette matches routes by scanning its route
list and FastAPI then solves each route's dependency graph; for a read served from the in-memory read model
those layers cost several times the read itself. This ASGI middleware recognises the registered paths, answers
a successful read directly through the same function the route uses, and hands everything else — unknown ids,
auth failures, anything unusual — to the full app, so errors keep their documented shapes.

Surfaces declare their hot reads (:class:`HotRead`) and the app assembly passes them in; this module knows no
surface.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from genloom.core.errors import GenloomError

_ID = r"(?P<job_id>[0-9A-Za-z-]{1,64})"

Answer = Callable[[Request, str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class HotRead:
    """``GET {prefix}{job_id}`` answered by ``answer(request, job_id)`` (raise GenloomError to fall through)."""

    prefix: str  # e.g. "/api/status/"
    answer: Answer

    @property
    def route(self) -> str:
        return self.prefix + "{job_id}"


class HotReadMiddleware:
    def __init__(self, app: ASGIApp, reads: Sequence[HotRead] = ()) -> None:
        self.app = app
        self._reads = [(re.compile(rf"^{re.escape(r.prefix)}{_ID}$"), r, SimpleNamespace(path=r.route)) for r in reads]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            for pattern, read, route in self._reads:
                match = pattern.match(path)
                if match is None:
                    continue
                try:
                    body = await read.answer(Request(scope), match.group("job_id"))
                except GenloomError:
                    break  # the full app answers, in the route's own error shape
                scope["route"] = route  # labels for request metrics, as if the router had matched
                await JSONResponse(body)(scope, receive, send)
                return
        await self.app(scope, receive, send)
