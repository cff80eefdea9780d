"""The status-polling fast path: a few ``GET …/{job_id}`` routes answered without routing.

Every client polls these, so they dominate the request mix. Starlette matches routes by scanning its route
list and FastAPI then solves each route's dependency graph; for a read served from the in-memory read model
those layers cost several times the read itself. This ASGI middleware recognises the registered paths, answers
a successful read directly through the same function the route uses, and hands everything else — unknown ids,
auth failures, anything unusual — to the full app, so errors keep their documented shapes.

Surfaces declare their hot reads (:class:`HotRead`) and the app assembly passes them in; this module knows no
surface. An answer is a JSON body (sent as a 200) or a whole response (its own status and headers: an ETag,
a 304). Reads are tried in order; the first whose path matches answers or hands the request on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from genloom.core.errors import GenloomError

_ID = r"(?P<job_id>[0-9A-Za-z-]{1,64})"

Answer = Callable[[Request, str], Awaitable[dict[str, Any] | Response]]


@dataclass(frozen=True)
class HotRead:
    """``GET {prefix}{job_id}`` answered by ``answer(request, job_id)`` (raise GenloomError to fall through);
    ``exact``: ``GET {prefix}`` itself, answered with an empty id. ``param`` names the id in the route label
    (request metrics), as the router's path template does."""

    prefix: str  # e.g. "/api/status/"
    answer: Answer
    exact: bool = False
    param: str = "job_id"

    @property
    def route(self) -> str:
        return self.prefix if self.exact else self.prefix + "{" + self.param + "}"

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(rf"^{re.escape(self.prefix)}{'(?P<job_id>)' if self.exact else _ID}$")


class HotReadMiddleware:
    def __init__(self, app: ASGIApp, reads: Sequence[HotRead] = ()) -> None:
        self.app = app
        self._reads = [(r.pattern, r, SimpleNamespace(path=r.route)) for r in reads]

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
                response = body if isinstance(body, Response) else JSONResponse(body)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
