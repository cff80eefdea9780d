"""The system routes as one surface: health, metrics (and the request observer that feeds them), providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from genloom.runtime import Runtime
from genloom.surface import Surface
from genloom.system import apidocs, health, metrics, providers


@asynccontextmanager
async def _lifespan(runtime: Runtime) -> AsyncIterator[None]:
    yield


surface = Surface(
    name="system",
    routers=(health.router, metrics.router, providers.router, apidocs.router),
    lifespan=_lifespan,
    openapi_tags=(
        {"name": "Health", "description": "Liveness and dependency health."},
        {"name": "System", "description": "Queue, providers and metrics."},
    ),
)
