"""The status-polling fast path: ``GET /api/status/{id}`` and ``GET /v1/jobs/{id}`` without routing.

Every client polls these, so they dominate the request mix. Starlette matches routes by scanning its route
list and FastAPI then solves each route's dependency graph; for a read served from the in-memory read model
those layers cost several times the read itself. This ASGI middleware recognises the two paths, answers a
successful read directly through the same service functions the routes use, and hands everything else —
unknown ids, auth failures, anything unusual — to the full app, so errors keep their documented shapes.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from genloom.core.errors import GenloomError
from genloom.deps import caller_of
from genloom.jobs import service as jobs_service

_ID = r"(?P<job_id>[0-9A-Za-z-]{1,64})"
_STUDIO = re.compile(rf"^/api/status/{_ID}$")
_NATIVE = re.compile(rf"^/v1/jobs/{_ID}$")
#: labels for request metrics, as if the router had matched
_STUDIO_ROUTE = SimpleNamespace(path="/api/status/{job_id}")
_NATIVE_ROUTE = SimpleNamespace(path="/v1/jobs/{job_id}")


class HotReadMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            studio = _STUDIO.match(path)
            native = None if studio else _NATIVE.match(path)
            if studio or native:
                response = await self._answer(scope, studio.group("job_id") if studio else native.group("job_id"),  # type: ignore[union-attr]
                                              studio=studio is not None)
                if response is not None:
                    scope["route"] = _STUDIO_ROUTE if studio else _NATIVE_ROUTE
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(scope: Scope, job_id: str, *, studio: bool) -> JSONResponse | None:
        request = Request(scope)
        try:
            if studio:
                from genloom.surfaces.studio import status_body

                return JSONResponse(await status_body(request, job_id))
            runtime = request.app.state.runtime
            return JSONResponse(await jobs_service.read_job(runtime, await caller_of(request, "native"), job_id))
        except GenloomError:
            return None  # the full app answers, in the route's own error shape
