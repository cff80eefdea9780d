"""The native API: ``/v1/jobs``, live events (``/v1/events``, ``/v1/jobs/{id}/events``, ``WS /v1/ws``), media
(``/media/{key}``, ``/v1/assets``) and ``/v1/queue``. Errors are problem+json (the default shape)."""

from __future__ import annotations

from fastapi import Request

from genloom.events import streams
from genloom.identity.deps import caller_of
from genloom.jobs import service as jobs_service
from genloom.surface import Surface
from genloom.surfaces.native import jobs, media
from genloom.system.hot_reads import HotRead


async def _read_job(request: Request, job_id: str) -> dict[str, object]:
    return await jobs_service.read_job(request.app.state.runtime, await caller_of(request, "native"), job_id)


surface = Surface(
    name="native",
    routers=(jobs.router, streams.router, media.router),
    hot_reads=(HotRead("/v1/jobs/", _read_job),),
    openapi_tags=(
        {"name": "Jobs", "description": "Native job API: create, list, inspect, cancel and retry jobs."},
        {"name": "Events", "description": "Live job events over SSE and WebSocket, resumable by event id."},
        {"name": "Media", "description": "Stored media files."},
    ),
)
