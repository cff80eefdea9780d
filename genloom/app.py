"""The web application: ``create_app()`` puts the surfaces, middleware and the process runtime together.

The surfaces are listed in :data:`SURFACES` (plain imports; each ``genloom/surfaces/<app>/`` exports one
``surface``). Their order is the route-matching order (the status-polling routes first) and the order their
error shapes are tried. The runtime comes from :mod:`genloom.assembly`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from genloom.assembly import build_runtime, start_hub, start_runtime, stop_hub
from genloom.core.http import ErrorRenderers, install_error_handlers
from genloom.core.logging import RequestLogMiddleware, configure_logging
from genloom.core.origins import OriginPolicy, WebSocketOriginGuard
from genloom.core.settings import Settings, load_settings
from genloom.jobs.janitor import run_janitor_forever
from genloom.jobs.worker import Worker
from genloom.runtime import Runtime
from genloom.surface import Surface
from genloom.surfaces.backend2 import surface as backend2
from genloom.surfaces.cinemind import surface as cinemind
from genloom.surfaces.genflow import surface as genflow
from genloom.surfaces.huaban import surface as huaban
from genloom.surfaces.identity import surface as identity
from genloom.surfaces.native import surface as native
from genloom.surfaces.studio import surface as studio
from genloom.system import openapi
from genloom.system.hot_reads import HotReadMiddleware
from genloom.system.startup import secret_key_warning, startup_line
from genloom.system.surface import surface as system

log = logging.getLogger("genloom.app")

def streams_budget(grace: float) -> float:
    """Of the grace period, how long live streams get to send their last frame and close."""
    return min(5.0, grace / 3)


def exit_margin(grace: float) -> float:
    """Of the grace period, what is kept for closing the hub, pools and clients after the workers drained."""
    return min(2.0, grace / 10)


#: every app surface this build serves, in route-matching order
SURFACES: tuple[Surface, ...] = (studio, native, system, identity, backend2, cinemind, huaban, genflow)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None, workers: int | None = None) -> FastAPI:
    """Build the app. Pass ``runtime`` to share one with the caller (tests); ``workers`` overrides settings."""
    settings = settings or (runtime.settings if runtime else load_settings())
    embedded_workers = settings.workers if workers is None else workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        own_runtime = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        app.state.request_observers.append(rt.metrics.observe_request)
        if own_runtime:
            await start_runtime(rt)
        await start_hub(rt)
        async with AsyncExitStack() as surfaces_running:
            for surface in SURFACES:
                if surface.lifespan is not None:
                    await surfaces_running.enter_async_context(surface.lifespan(rt))
            background: list[asyncio.Task[Any]] = []
            worker: Worker | None = None
            stop = asyncio.Event()
            if embedded_workers > 0:
                worker = Worker(rt, concurrency=embedded_workers, name="embedded")
                background.append(asyncio.create_task(worker.run(stop), name="genloom-worker"))
            background.append(asyncio.create_task(run_janitor_forever(rt, stop), name="genloom-janitor"))
            background.append(asyncio.create_task(rt.probes.run(stop), name="genloom-provider-probes"))
            # Everything built so far lives for the whole process: move it out of the collector's sight so that
            # full collections stay short when many connections are open (bench/ws.py).
            if own_runtime:  # the process's app (genloom serve), not an app sharing a caller's runtime
                gc.collect()
                gc.freeze()
            log.info("%s", startup_line(settings, rt.db.engine.url, embedded_workers))
            if (warning := secret_key_warning(settings)) is not None:
                log.warning("%s", warning)
            draining: list[asyncio.Task[None]] = []

            async def begin_shutdown() -> float:
                """SIGTERM (:mod:`genloom.serving`): stop claiming and drain the workers to the deadline, and tell
                every live stream to reconnect elsewhere. Returns the seconds left of the grace period."""
                grace = settings.shutdown_grace_seconds
                stop.set()
                if worker is not None and not draining:
                    # the workers drain while the streams and in-flight requests finish, to one deadline, with a
                    # little left for closing pools
                    draining.append(asyncio.create_task(worker.shutdown(max(0.0, grace - exit_margin(grace))),
                                                        name="genloom-worker-drain"))
                await rt.shutdown.begin(grace, streams_budget(grace))
                return rt.shutdown.remaining()

            app.state.begin_shutdown = begin_shutdown
            stop_watching = rt.shutdown.on_begin(rt.hub.drain)
            try:
                yield
            finally:
                app.state.begin_shutdown = None
                stop_watching()
                stop.set()
                if draining:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await draining[0]
                elif worker is not None:
                    await worker.shutdown(settings.shutdown_grace_seconds)
                for task in background:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(task, timeout=max(1.0, rt.shutdown.remaining()) if draining
                                               else settings.shutdown_grace_seconds + 5)
        await stop_hub(rt)
        app.state.request_observers.remove(rt.metrics.observe_request)
        if own_runtime:
            await rt.close()

    app = FastAPI(
        title="genloom",
        version="0.1.0",
        description="Self-hosted backend for AI creative apps: durable generation jobs, media and live progress.",
        lifespan=lifespan,
        openapi_tags=[dict(tag) for surface in SURFACES for tag in surface.openapi_tags],
        docs_url=None,  # /docs and /redoc come from genloom.system.apidocs, with their assets served locally
        redoc_url=None,
    )
    app.state.request_observers = []
    app.state.begin_shutdown = None  # set while the lifespan runs (genloom.serving calls it on SIGTERM)
    app.state.health_fields = [s.health_fields for s in SURFACES if s.health_fields is not None]
    hot_reads = [read for surface in SURFACES for read in surface.hot_reads]
    app.add_middleware(HotReadMiddleware, reads=hot_reads)  # innermost: behind CORS and request logging
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Last-Event-ID", "X-Request-ID", "Location"],
    )
    # WebSocket handshakes get the check CORS gives fetch: every WS route, present or future, passes here
    app.add_middleware(WebSocketOriginGuard, policy=OriginPolicy(
        settings.cors_origins, public_base_url=settings.public_base_url, require_origin=settings.ws_require_origin))
    app.add_middleware(RequestLogMiddleware)
    renderers = ErrorRenderers()
    for surface in SURFACES:
        if surface.errors is not None:
            renderers.add(surface.errors.matches, surface.errors.render)
    install_error_handlers(app, renderers)
    for surface in SURFACES:
        for router in surface.routers:
            app.include_router(router)
    openapi.install(app, settings, SURFACES)
    return app
