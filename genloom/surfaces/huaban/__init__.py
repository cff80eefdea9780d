"""HuaBan (the children's drawing app): anonymous ``X-Client-Id`` callers, presigned uploads, artworks and the
gallery, drawing + voice → story → video generation, AI analyses, growth profile and reports.

Shapes only: the rules live in :mod:`genloom.artworks` and :mod:`genloom.growth`. camelCase JSON, errors as
``{"error": {"code", "message", "field"}}``. The server's janitor loop also sweeps HuaBan's leftovers
(:func:`genloom.artworks.janitor.sweep`) every ``SWEEP_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from genloom.artworks import janitor
from genloom.runtime import Runtime
from genloom.surface import ErrorShape, Surface
from genloom.surfaces.huaban import errors, routes_artworks, routes_generation, routes_growth, routes_media
from genloom.surfaces.huaban.state import close_state, open_state, state_of

log = logging.getLogger("genloom.huaban")
SWEEP_SECONDS = 600.0


async def _sweep_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_SECONDS)
        if stop.is_set():
            break
        try:
            await janitor.sweep(runtime, state_of(runtime).limiter)
        except Exception:  # noqa: BLE001 - try again next round
            log.warning("huaban.janitor_failed", exc_info=True)


@asynccontextmanager
async def _lifespan(runtime: Runtime) -> AsyncIterator[None]:
    open_state(runtime)
    stop = asyncio.Event()
    task = asyncio.create_task(_sweep_forever(runtime, stop), name="genloom-huaban-janitor")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)
        await close_state(runtime)


surface = Surface(
    name="huaban",
    routers=(routes_media.router, routes_artworks.router, routes_generation.router, routes_growth.router),
    errors=ErrorShape(errors.matches, errors.render_error, media_type="application/json",
                      schema=errors.ERROR_SCHEMA),
    lifespan=_lifespan,
    openapi_tags=({"name": "HuaBan", "description": "HuaBan: anonymous clients (X-Client-Id), presigned uploads, "
                   "artworks and gallery, drawing + voice → story → video, analyses, growth reports."},),
)
