"""What cineMind's ``GET /health`` adds: the state of the database, storage, queue and providers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from genloom.jobs import service as jobs_service
from genloom.runtime import Runtime

log = logging.getLogger("genloom.cinemind")

PROBE_TIMEOUT_SECONDS = 3.0


async def _storage(runtime: Runtime) -> str:
    try:
        await asyncio.wait_for(runtime.blobs.list_prefixes(""), PROBE_TIMEOUT_SECONDS)
        return "healthy"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        log.warning("health.storage_unhealthy error=%s", type(exc).__name__)
        return "unhealthy"


async def _queue(runtime: Runtime) -> dict[str, Any]:
    try:
        async with runtime.db.reader.connect() as conn:
            stats = await asyncio.wait_for(jobs_service.queue_stats(conn), PROBE_TIMEOUT_SECONDS)
        return {"status": "healthy", "queued": stats["by_status"].get("queued", 0),
                "running": stats["by_status"].get("running", 0), "workers": len(stats["workers"])}
    except Exception as exc:  # noqa: BLE001
        log.warning("health.queue_unhealthy error=%s", type(exc).__name__)
        return {"status": "unhealthy"}


def _providers(runtime: Runtime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    providers = runtime.providers
    for capability in ("text", "image", "video", "asr", "vision"):
        provider = getattr(providers, capability, None)
        if provider is None:
            continue
        entry: dict[str, Any] = {"provider": provider.name}
        guard = providers.health.get(f"{capability}:{provider.name}") or providers.health.get(provider.name)
        status = getattr(guard, "status", None)
        if callable(status):
            breaker = status().get("breaker", {})
            entry["circuit"] = breaker.get("state", "closed")
        out[capability] = entry
    return out


async def dependency_report(runtime: Runtime, *, database: bool, redis: str) -> dict[str, Any]:
    storage, queue = await asyncio.gather(_storage(runtime), _queue(runtime))
    return {
        "database": "healthy" if database else "unhealthy",
        "storage": {"status": storage, "backend": runtime.blobs.name},
        "queue": queue,
        "redis": redis,
        "providers": _providers(runtime),
    }
