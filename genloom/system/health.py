"""Health: ``GET /health`` (Studio Core's shape, seed 004, shared with cineMind) and ``GET /healthz`` (liveness).

``/health`` checks the database (``SELECT 1``) and, when ``USE_REDIS`` is on, Redis (``PING``), each with a short
timeout so that a hung dependency cannot hang the probe. Body::

    {"status": "ok" | "degraded", "redis": "healthy" | "unhealthy" | "disabled", "database": "healthy" | "unhealthy"}

A dead database answers 503 (a load balancer should stop sending traffic); a dead Redis only reports
``"redis": "unhealthy"`` with 200, because genloom falls back to database polling without it.

Surfaces add their own fields to the same body (cineMind adds ``code``, ``message``, ``data``) through their
``Surface.health_fields``; the app assembly lists them on ``app.state.health_fields``. They run in the app's
surface order and get the checks already made, so they never probe a dependency twice.
"""

from __future__ import annotations

import asyncio
import logging
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


@dataclass(frozen=True)
class HealthReport:
    """What ``/health`` found; handed to contributors."""

    database: bool
    redis: str  #: "healthy" | "unhealthy" | "disabled"

    @property
    def ok(self) -> bool:
        return self.database


async def check_database(runtime: Runtime) -> bool:
    try:
        return await asyncio.wait_for(runtime.db.ping(), DB_TIMEOUT_SECONDS)
    except TimeoutError:
        return False


async def check_redis(runtime: Runtime) -> str:
    """``disabled`` unless USE_REDIS; else a real PING with a short timeout."""
    if not runtime.settings.use_redis:
        return "disabled"
    from redis.asyncio import Redis

    client = Redis.from_url(runtime.settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                            socket_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        pong = await asyncio.wait_for(client.ping(), REDIS_TIMEOUT_SECONDS)
        return "healthy" if pong else "unhealthy"
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", never a 500
        log.warning("health.redis_unhealthy error=%s", type(exc).__name__)
        return "unhealthy"
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # the stubs lag redis 5 (close() is deprecated)


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
    for contribute in request.app.state.health_fields:
        await contribute(runtime, report, body)
    return JSONResponse(body, status_code=200 if report.ok else 503)


@router.get("/healthz", summary="Liveness: the process answers", response_model=dict[str, str],
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
