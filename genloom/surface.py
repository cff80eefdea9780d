"""What an app surface hands to the app assembly: its routers and how it shapes errors, answers hot reads,
adds to ``GET /health`` and what it runs for the app's lifetime.

Each ``genloom/surfaces/<app>/__init__.py`` exports one ``surface = Surface(...)``; ``genloom/app.py`` lists
them (plain imports). Nothing else imports a surface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from genloom.core.errors import GenloomError
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from genloom.system.health import HealthReport
from genloom.system.hot_reads import HotRead

__all__ = ["AsyncIterator", "ErrorShape", "HealthFields", "Surface"]

#: adds a surface's own fields to the ``GET /health`` body, in place
HealthFields = Callable[[Runtime, HealthReport, dict[str, Any]], Awaitable[None]]
#: runs for the app's lifetime (``async with lifespan(runtime): …``): background tasks, caches
Lifespan = Callable[[Runtime], AbstractAsyncContextManager[None]]


#: a surface's own statement in the OpenAPI document of what depends on settings (workflow names, password length)
OpenApiRefiner = Callable[[dict[str, Any], Settings], None]


@dataclass(frozen=True)
class ErrorShape:
    """Errors of requests that ``matches`` are rendered by ``render`` (else as problem+json). ``media_type`` and
    ``schema`` (with a ``title``: its name under components.schemas) are what the OpenAPI document declares."""

    matches: Callable[[Request], bool]
    render: Callable[[Request, GenloomError], Response]
    media_type: str = "application/problem+json"
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Surface:
    name: str
    routers: tuple[APIRouter, ...]
    errors: ErrorShape | None = None
    hot_reads: tuple[HotRead, ...] = ()
    health_fields: HealthFields | None = None
    lifespan: Lifespan | None = None
    openapi_tags: tuple[dict[str, str], ...] = field(default=())
    openapi: OpenApiRefiner | None = None
