"""Health: ``GET /health`` (Studio Core's shape, seed 004, shared with cineMind) and ``GET /healthz`` (liveness).

``/health`` checks the database (``SELECT 1``) and, when ``USE_REDIS`` is on, Redis (``PING``), each with a short
timeout so that a hung dependency cannot hang the probe. Body::

    {"status": "ok" | "degraded", "redis": "healthy" | "unhealthy" | "disabled", "database": "healthy" | "unhealthy"}

A dead database answers 503 (a load balancer should stop sending traffic); a dead Redis only reports
``"redis": "unhealthy"`` with 200, because genloom falls back to database polling without it.

Other surfaces add their own fields to the same body (cineMind adds ``code``, ``message``, ``data``) by
registering a contributor with :func:`add_contributor`; contributors run in registration order and get the
checks already made, so they never probe a dependency twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from genloom.deps import RuntimeDep
from genloom.runtime import Runtime

router = APIRouter(tags=["Health"])
log = logging.getLogger("genloom.health")

DB_TIMEOUT_SECONDS = 3.0  # a probe that takes longer than this is a failed probe
REDIS_TIMEOUT_SECONDS = 1.0
_REDIS_KEY = "health.redis"  # runtime.extras key of the cached Redis client


@dataclass(frozen=True)
class HealthReport:
    """What ``/health`` found; handed to contributors."""

    database: bool
    redis: str  #: "healthy" | "unhealthy" | "disabled"

    @property
    def ok(self) -> bool:
        return self.database


#: ``async def contribute(request, report, body) -> None`` adds fields to ``body`` in place.
Contributor = Callable[[Request, HealthReport, dict[str, Any]], Awaitable[None]]
_contributors: list[Contributor] = []


def add_contributor(contributor: Contributor) -> None:
    """Register extra fields for the ``/health`` body (idempotent: a module re-imported adds nothing twice)."""
    key = (getattr(contributor, "__module__", None), getattr(contributor, "__qualname__", None))
    for existing in _contributors:
        if (getattr(existing, "__module__", None), getattr(existing, "__qualname__", None)) == key:
            _contributors.remove(existing)
            break
    _contributors.append(contributor)


async def check_database(runtime: Runtime) -> bool:
    try:
        return await asyncio.wait_for(runtime.db.ping(), DB_TIMEOUT_SECONDS)
    except TimeoutError:
        return False


async def check_redis(runtime: Runtime) -> str:
    """``disabled`` unless USE_REDIS; else a real PING with a short timeout."""
    if not runtime.settings.use_redis:
        return "disabled"
    try:
        client = _redis_client(runtime)
        pong = await asyncio.wait_for(client.ping(), REDIS_TIMEOUT_SECONDS)
        return "healthy" if pong else "unhealthy"
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", never a 500
        log.warning("health.redis_unhealthy error=%s", type(exc).__name__)
        return "unhealthy"


def _redis_client(runtime: Runtime) -> Any:
    client = runtime.extras.get(_REDIS_KEY)
    if client is None:
        from redis.asyncio import Redis

        client = Redis.from_url(
            runtime.settings.redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        runtime.extras[_REDIS_KEY] = client
    return client


async def health_report(runtime: Runtime) -> HealthReport:
    database, redis = await asyncio.gather(check_database(runtime), check_redis(runtime))
    return HealthReport(database=database, redis=redis)


@router.get(
    "/health",
    summary="Dependency health",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "redis": "healthy", "database": "healthy"}}}},
        503: {
            "description": "The database is unreachable",
            "content": {"application/json": {"example": {"status": "degraded", "redis": "disabled",
                                                         "database": "unhealthy"}}},
        },
    },
)
async def health(request: Request, runtime: RuntimeDep) -> JSONResponse:
    report = await health_report(runtime)
    if not report.ok:
        log.warning("health.degraded database=unhealthy redis=%s", report.redis)
    body: dict[str, Any] = {
        "status": "ok" if report.ok else "degraded",
        "redis": report.redis,
        "database": "healthy" if report.database else "unhealthy",
    }
    for contribute in list(_contributors):
        await contribute(request, report, body)
    return JSONResponse(body, status_code=200 if report.ok else 503)


@router.get("/healthz", summary="Liveness: the process answers", response_model=dict[str, str],
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def on_shutdown(runtime: Runtime) -> None:
    client = runtime.extras.pop(_REDIS_KEY, None)
    if client is not None:
        await client.aclose()
