"""Health: ``GET /health`` (Studio Core's shape, seed 004, shared with cineMind) and ``GET /healthz`` (liveness;
with an ``X-Client-Id`` — the HuaBan app — or ``?checks=true`` also ``{"ok", "checks"}`` for the database,
storage and queue, 503 naming the failing check).

``/health`` checks the database (``SELECT 1``) and, when ``USE_REDIS`` is on, Redis (``PING``), each with a short
timeout so that a hung dependency cannot hang the probe. Body::

    {"status": "ok" | "degraded", "redis": "healthy" | "unhealthy" | "disabled", "database": "healthy" | "unhealthy"}

A dead database answers 503 (a load balancer should stop sending traffic); a dead Redis only reports
``"redis": "unhealthy"`` with 200, because genloom falls back to database polling without it.

Both also read the schema's revision (``alembic_version``): a database whose schema is not the one this code
needs (``"schema": "behind"``, with the line that says what to run in ``"detail"``) answers 503 too, never
"ok", because every request that touches a missing table would fail. ``/healthz``'s checked form reports it as
``checks.schema``.

When remote providers are in use, ``"providers": {"comfyui": {"reachable": false, "checked_at": …, "status": null,
"error": "connect_failed", "latency_ms": …}}`` gives their last health probe (``genloom/providers/probes.py``): an
unreachable provider is news, not a reason to take the process out of rotation, so it never changes the status.

Surfaces add their own fields to the same body (cineMind adds ``code``, ``message``, ``data``) through their
``Surface.health_fields``; the app assembly lists them on ``app.state.health_fields``. They run in the app's
surface order and get the checks already made, so they never probe a dependency twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from genloom.core.migrate import SchemaStatus, schema_status
from genloom.deps import RuntimeDep
from genloom.jobs.tables import jobs_t
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
    #: the schema's revision against the code's head; None when it could not be read (database down)
    schema: SchemaStatus | None = None

    @property
    def schema_state(self) -> str:
        """``current`` (at head), ``behind`` (or ahead: another genloom's schema) or ``unknown``."""
        if self.schema is None:
            return "unknown"
        return "current" if self.schema.at_head else "behind"

    @property
    def ok(self) -> bool:
        return self.database and self.schema_state == "current"

    @property
    def problem(self) -> str:
        """What is wrong, in one line ("" when ok)."""
        if not self.database:
            return "the database is unavailable"
        if self.schema is None:
            return "the schema revision could not be read"
        return "" if self.schema.at_head else self.schema.message


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


async def check_schema(runtime: Runtime) -> SchemaStatus | None:
    try:
        return await asyncio.wait_for(schema_status(runtime.db.reader), DB_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - an unreadable revision is "unknown", never a 500
        log.warning("health.schema_unknown error=%s", type(exc).__name__)
        return None


async def health_report(runtime: Runtime) -> HealthReport:
    database, redis, schema = await asyncio.gather(check_database(runtime), check_redis(runtime),
                                                   check_schema(runtime))
    return HealthReport(database=database, redis=redis, schema=schema)


@router.get(
    "/health",
    summary="Dependency health",
    responses={
        200: {"content": {"application/json": {"examples": {
            "local": {"summary": "Offline providers only", "value": {"status": "ok", "redis": "healthy",
                                                                      "database": "healthy"}},
            "remote": {"summary": "A remote provider in use, found down by its last probe", "value": {
                "status": "ok", "redis": "disabled", "database": "healthy",
                "providers": {"comfyui": {"reachable": False, "checked_at": 1795000000.25, "status": None,
                                          "error": "connect_failed", "latency_ms": 1.4}}}}}}}},
        503: {
            "description": "The database is unreachable, or its schema is not the one this genloom needs",
            "content": {"application/json": {"examples": {
                "database_down": {"summary": "The database is unreachable", "value": {
                    "status": "degraded", "redis": "disabled", "database": "unhealthy", "schema": "unknown",
                    "detail": "the database is unavailable"}},
                "schema_behind": {"summary": "Started with GENLOOM_DB_AUTO_MIGRATE=false on an old schema", "value": {
                    "status": "degraded", "redis": "disabled", "database": "healthy", "schema": "behind",
                    "detail": "database is at revision 0001_core, this genloom needs 0003_cinemind+0013_growth: "
                              "run genloom migrate"}}}}},
        },
    },
)
async def health(request: Request, runtime: RuntimeDep) -> JSONResponse:
    report = await health_report(runtime)
    if not report.ok:
        log.warning("health.degraded database=%s schema=%s redis=%s",
                    "healthy" if report.database else "unhealthy", report.schema_state, report.redis)
    body: dict[str, Any] = {
        "status": "ok" if report.ok else "degraded",
        "redis": report.redis,
        "database": "healthy" if report.database else "unhealthy",
        "schema": report.schema_state,
    }
    if not report.ok:
        body["detail"] = report.problem
    if runtime.probes.status:
        body["providers"] = {name: verdict.to_dict() for name, verdict in runtime.probes.status.items()}
    for contribute in request.app.state.health_fields:
        await contribute(runtime, report, body)
    return JSONResponse(body, status_code=200 if report.ok else 503)


STORAGE_PROBE_KEY = "healthz/probe"  # never written: a stat of it proves the store answers


async def dependency_checks(runtime: Runtime) -> dict[str, str]:
    """HuaBan's ``checks``: database, storage and queue, each "ok" or "down", and the schema ("ok" at head,
    else "behind" or "unknown"), probed concurrently."""

    async def storage() -> bool:
        await runtime.blobs.stat(STORAGE_PROBE_KEY)
        return True

    async def queue() -> bool:
        async with runtime.db.reader.connect() as conn:
            await conn.execute(select(jobs_t.c.id).limit(1))
        return True

    async def probe(check: Callable[[], Awaitable[bool]]) -> str:
        try:
            return "ok" if await asyncio.wait_for(check(), DB_TIMEOUT_SECONDS) else "down"
        except Exception:  # noqa: BLE001 - a failed probe is "down", never a 500
            return "down"

    async def schema() -> str:
        status = await check_schema(runtime)
        return "unknown" if status is None else "ok" if status.at_head else "behind"

    names = ("database", "storage", "queue", "schema")
    results = await asyncio.gather(probe(lambda: check_database(runtime)), probe(storage), probe(queue), schema())
    return dict(zip(names, results, strict=True))


HEALTHZ_CHECKED = {"status": "ok", "ok": True,
                   "checks": {"database": "ok", "storage": "ok", "queue": "ok", "schema": "ok"}}


@router.get(
    "/healthz",
    summary="Liveness; with X-Client-Id (HuaBan) or ?checks=true also database, storage and queue",
    responses={
        200: {"content": {"application/json": {"examples": {
            "liveness": {"summary": "No X-Client-Id: the process answers", "value": {"status": "ok"}},
            "checked": {"summary": "HuaBan (X-Client-Id sent)", "value": HEALTHZ_CHECKED}}}}},
        503: {"description": "A dependency is down (checked form only)",
              "content": {"application/json": {"example": {
                  "status": "degraded", "ok": False,
                  "checks": {"database": "ok", "storage": "down", "queue": "ok", "schema": "ok"}}}}},
    },
)
async def healthz(request: Request, runtime: RuntimeDep,
                  checks: bool = Query(default=False, description="also probe the dependencies")) -> JSONResponse:
    # An orchestrator's liveness probe sends no client id and must never see a dependency's blink (a restart
    # would not fix the database); the HuaBan app, which sends its X-Client-Id everywhere, gets the checks.
    if not checks and "x-client-id" not in request.headers:
        return JSONResponse({"status": "ok"})
    found = await dependency_checks(runtime)
    ok = all(value == "ok" for value in found.values())
    if not ok:
        log.warning("healthz.degraded %s", " ".join(f"{k}={v}" for k, v in found.items()))
    return JSONResponse({"status": "ok" if ok else "degraded", "ok": ok, "checks": found},
                        status_code=200 if ok else 503)
