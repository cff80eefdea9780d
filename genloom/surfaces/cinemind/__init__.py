"""cineMind: mind-map ``/nodes``, generation tasks from Chinese-key briefs, results, the media browser,
image nodes, ``WS /ws/tasks`` and its fields of ``GET /health``; every answer in the ``{code, message, data}``
envelope."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from genloom.nodes import keywords
from genloom.runtime import Runtime
from genloom.surface import ErrorShape, Surface
from genloom.surfaces.cinemind import nodes, routes


@contextlib.asynccontextmanager
async def _lifespan(runtime: Runtime) -> AsyncIterator[None]:
    # jieba's dictionary takes about a second to load: in a thread at start-up, not on the first /keywords call
    warming = asyncio.create_task(asyncio.to_thread(keywords.warm_up), name="jieba-warm-up")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await warming

surface = Surface(
    name="cinemind",
    routers=(nodes.router, routes.router),
    errors=ErrorShape(routes.in_cinemind, routes.render_error, media_type="application/json",
                      schema=routes.ERROR_SCHEMA),
    health_fields=routes.health_fields,
    lifespan=_lifespan,
    openapi_tags=(
        {"name": "Nodes", "description": "cineMind mind-map nodes: ETag / If-Match locking, soft delete, keywords."},
        {"name": "Tasks", "description": "cineMind generation tasks from Chinese-key briefs (202 + polling)."},
        {"name": "Results", "description": "cineMind generated images: bytes or metadata by Accept; image nodes."},
        {"name": "WebSocket", "description": "WS /ws/tasks (cineMind task messages, resume with ?after=) and "
                                             "WS /v1/ws; listed in docs/cinemind.md and the Postman collection."},
    ),
)
