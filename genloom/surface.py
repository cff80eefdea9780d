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
from genloom.runtime import Runtime
from genloom.system.health import HealthReport
from genloom.system.hot_reads import HotRead

__all__ = ["AsyncIterator", "ErrorShape", "HealthFields", "Surface"]

#: adds a surface's own fields to the ``GET /health`` body, in place
HealthFields = Callable[[Runtime, HealthReport, dict[str, Any]], Awaitable[None]]
#: runs for the app's lifetime (``async with lifespan(runtime): …``): background tasks, caches
Lifespan = Callable[[Runtime], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class ErrorShape:
    """Errors of requests that ``matches`` are rendered by ``render`` (else as problem+json)."""

    matches: Callable[[Request], bool]
    render: Callable[[Request, GenloomError], Response]


@dataclass(frozen=True)
class Surface:
    name: str
    routers: tuple[APIRouter, ...]
    errors: ErrorShape | None = None
    hot_reads: tuple[HotRead, ...] = ()
    health_fields: HealthFields | None = None
    lifespan: Lifespan | None = None
    openapi_tags: tuple[dict[str, str], ...] = field(default=())
