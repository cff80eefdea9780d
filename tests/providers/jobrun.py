"""Running jobs through the real queue in provider tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.jobs.models import JobEvent
from genloom.media import service as media_service
from genloom.runtime import Runtime


async def create(runtime: Runtime, kind: str = "image.generate", **input: Any) -> str:
    async with runtime.db.session() as s:
        job = await service.create_job(s, runtime, ANONYMOUS, kind=kind, input=input)
    return str(job["id"])


async def get(runtime: Runtime, job_id: str) -> dict[str, Any]:
    async with runtime.db.read_session() as s:
        return await service.get_job(s, ANONYMOUS, job_id)


async def event_types(runtime: Runtime, job_id: str) -> list[str]:
    async with runtime.db.read_session() as s:
        rows = (await s.execute(select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.id))).all()
    return [r.type for r in rows]


async def running_events(runtime: Runtime, job_id: str) -> list[dict[str, Any]]:
    """The data of the job's progress and phase events, in order."""
    async with runtime.db.read_session() as s:
        rows = (await s.execute(select(JobEvent.data).where(JobEvent.job_id == job_id,
                                                          JobEvent.type.in_(("progress", "phase")))
                                .order_by(JobEvent.id))).all()
    return [dict(r.data) for r in rows]


async def stored_images(runtime: Runtime, job: dict[str, Any]) -> list[bytes]:
    """The bytes of every image the job stored (read back through the blob store and the assets table)."""
    out = []
    async with runtime.db.read_session() as s:
        for image in job["result"]["images"]:
            asset = await media_service.get_asset_or_raise(s, ANONYMOUS, image["asset_id"])
            out.append(await runtime.blobs.get(asset.key))
    return out


async def wait_for_request(state: Any, method: str, path: str, timeout: float = 20.0) -> None:
    """Wait until a fake has seen a request (the fake's log is filled from its own thread)."""
    import asyncio

    for _ in range(int(timeout / 0.02)):
        if state.seen(method, path):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the fake never saw {method} {path}")
