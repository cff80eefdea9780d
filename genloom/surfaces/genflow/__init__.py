"""GenFlow: ``/articles`` (versions, diff, restore, collaborators, search) and the realtime channel
``WS /ws/{client_id}``; errors as native problem+json. Listed after cineMind in the app, so ``/ws/tasks`` stays
cineMind's (``/ws/{client_id}`` matches any one path segment)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from genloom.runtime import Runtime
from genloom.surface import Surface
from genloom.surfaces.genflow import articles, assistant, channel, collab, reads

#: everything the surface runs for the app's lifetime, entered in order
LIFESPANS = (channel.lifespan, collab.lifespan, assistant.lifespan)


@contextlib.asynccontextmanager
async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for enter in LIFESPANS:
            await stack.enter_async_context(enter(runtime))
        yield


surface = Surface(
    name="genflow",
    routers=(articles.router, channel.router, collab.router, assistant.router),
    lifespan=lifespan,
    hot_reads=reads.HOT_READS,
    openapi_tags=(
        {"name": "Articles", "description": "GenFlow articles: a version per save, diff, restore, collaborators, "
                                            "soft delete, ETag / If-Match locking, Chinese-aware search."},
        {"name": "Collaboration", "description": "GenFlow collaborative editing: WS /ws/articles/{id} speaks the "
                                                 "Yjs sync and awareness protocols; presence."},
        {"name": "Assistant", "description": "GenFlow writing assistant: sessions, history, streamed replies "
                                             "(SSE, resumable, cancelable), analysis and completion."},
    ),
)
