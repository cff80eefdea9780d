"""The web application: create_app() assembles routers, middleware and the process runtime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from genloom.core.http import ErrorRenderers, install_error_handlers
from genloom.core.settings import Settings, load_settings
from genloom.runtime import Runtime, build_runtime, start_runtime

log = logging.getLogger("genloom.app")

#: Feature and surface modules with a module-level ``router``. Each may also define
#: ``error_matcher(request) -> bool`` + ``render_error(request, err)`` to shape its errors, and
#: ``async def on_startup(runtime)`` / ``async def on_shutdown(runtime)``.
ROUTER_MODULES: tuple[str, ...] = (
    # the status-polling routes are matched first: route matching is a linear scan
    "genloom.surfaces.studio",
    "genloom.jobs.router",
    "genloom.jobs.events_router",
    "genloom.media.router",
    "genloom.surfaces.health",
    "genloom.surfaces.metrics",
    "genloom.identity.router",
    "genloom.ratings.router",
    "genloom.nodes.router",
    "genloom.surfaces.cinemind",
    "genloom.providers.router",
)

OPENAPI_TAGS = [
    {"name": "Jobs", "description": "Native job API: create, list, inspect, cancel and retry jobs."},
    {"name": "Events", "description": "Live job events over SSE and WebSocket, resumable by event id."},
    {"name": "Media", "description": "Stored media files."},
    {"name": "Studio", "description": "Studio Core surface (seed 004): generate and poll."},
    {"name": "Health", "description": "Liveness and dependency health."},
    {"name": "System", "description": "Queue, providers and metrics."},
    {"name": "Auth", "description": "Register, sign in (JWT access + rotating refresh tokens), refresh, sign out."},
    {"name": "Users", "description": "Your account and preferences; user management for administrators."},
    {"name": "Ratings", "description": "Rate finished subtasks 1-5 (seed 002 tasks)."},
    {"name": "Nodes", "description": "cineMind mind-map nodes: ETag / If-Match locking, soft delete, keywords."},
    {"name": "Tasks", "description": "cineMind generation tasks from Chinese-key briefs (202 + polling)."},
    {"name": "Results", "description": "cineMind generated images: bytes or metadata by Accept; image nodes."},
    {"name": "WebSocket", "description": "WS /ws/tasks (cineMind task messages, resume with ?after=) and WS /v1/ws; "
                                         "listed in docs/cinemind.md and the Postman collection."},
]


def _loaded_modules() -> list[Any]:
    modules = []
    for name in ROUTER_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
    return modules


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None, workers: int | None = None) -> FastAPI:
    """Build the app. Pass ``runtime`` to share one with the caller (tests); ``workers`` overrides settings."""
    settings = settings or (runtime.settings if runtime else load_settings())
    modules = _loaded_modules()
    embedded_workers = settings.workers if workers is None else workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from genloom.core.logging import configure_logging
        from genloom.jobs.janitor import run_janitor_forever
        from genloom.jobs.worker import Worker

        configure_logging(settings)
        own_runtime = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        if own_runtime:
            await start_runtime(rt)
        for module in modules:
            hook = getattr(module, "on_startup", None)
            if hook is not None:
                await hook(rt)
        background: list[asyncio.Task[Any]] = []
        worker: Worker | None = None
        stop = asyncio.Event()
        if embedded_workers > 0:
            worker = Worker(rt, concurrency=embedded_workers, name="embedded")
            background.append(asyncio.create_task(worker.run(stop), name="genloom-worker"))
        background.append(asyncio.create_task(run_janitor_forever(rt, stop), name="genloom-janitor"))
        # Everything built so far lives for the whole process: move it out of the collector's sight so that
        # full collections stay short when many connections are open (bench/ws.py).
        if own_runtime:  # the process's app (genloom serve), not an app sharing a caller's runtime
            gc.collect()
            gc.freeze()
        log.info("app.started database=%s storage=%s workers=%d", rt.db.dialect, settings.storage, embedded_workers)
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker.shutdown(settings.shutdown_grace_seconds)
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=settings.shutdown_grace_seconds + 5)
            for module in reversed(modules):
                hook = getattr(module, "on_shutdown", None)
                if hook is not None:
                    with contextlib.suppress(Exception):
                        await hook(rt)
            if own_runtime:
                await rt.close()

    app = FastAPI(
        title="genloom",
        version="0.1.0",
        description="Self-hosted backend for AI creative apps: durable generation jobs, media and live progress.",
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
    from genloom.surfaces.hot_reads import HotReadMiddleware

    app.add_middleware(HotReadMiddleware)  # innermost: behind CORS and request logging like any route
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Last-Event-ID", "X-Request-ID", "Location"],
    )
    from genloom.core.logging import RequestLogMiddleware

    app.add_middleware(RequestLogMiddleware)
    renderers = ErrorRenderers()
    for module in modules:
        matcher = getattr(module, "error_matcher", None)
        render = getattr(module, "render_error", None)
        if matcher is not None and render is not None:
            renderers.add(matcher, render)
    install_error_handlers(app, renderers)
    for module in modules:
        app.include_router(module.router)
    _document_errors_as_served(app)
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable, `field` names the input at fault.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "code": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "string"},
        "instance": {"type": "string"}, "field": {"type": "string"},
    },
    "required": ["status", "code", "message"],
    "example": {"type": "https://genloom.dev/errors/validation_error", "title": "input.prompt: Field required",
                "status": 400, "code": "validation_error", "message": "input.prompt: Field required",
                "detail": "input.prompt: Field required", "instance": "/v1/jobs", "field": "input.prompt"},
}


def _document_errors_as_served(app: FastAPI) -> None:
    """FastAPI documents request-validation failures as 422 HTTPValidationError; genloom answers them with
    400 in the surface's error shape. Make the OpenAPI document say what the server does."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = {
                        "description": "Invalid input",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    }
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
