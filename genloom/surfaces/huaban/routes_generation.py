"""HuaBan: ``/generation/jobs`` — start (202), follow, retry (resumes), capture (the seed frontend's call)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from genloom.artworks import generation
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.surfaces.huaban import examples as ex
from genloom.surfaces.huaban import schemas
from genloom.surfaces.huaban.deps import Client, GenerationClient
from genloom.surfaces.huaban.errors import CLIENT_ID_ERRORS, responses
from genloom.surfaces.huaban.views import generation_out, phase_of

router = APIRouter(prefix="/generation/jobs", tags=["HuaBan"])
JOB_NOT_FOUND = (404, "job_not_found", "Generation job not found.", "jobId")


@router.post("", summary="Animate an artwork: transcript → story → video (one durable job)", status_code=202,
             response_model=schemas.GenerationAccepted,
             responses=responses((404, "artwork_not_found", "Artwork not found.", "artworkId"),
                                 (409, "generation_in_progress", "generation job … is still running", "artworkId"),
                                 *CLIENT_ID_ERRORS))
async def start(body: schemas.GenerationCreate, session: SessionDep, runtime: RuntimeDep, caller: GenerationClient,
                idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=200)
                ) -> JSONResponse:
    view = await generation.start_generation(session, runtime, caller, artwork_id=body.artwork_id, text=body.text,
                                             idempotency_key=idempotency_key)
    await session.commit()
    status = {"queued": "queued", "running": "processing", "succeeded": "completed"}.get(view.status, view.status)
    return JSONResponse({"jobId": view.job_id, "status": status, "phase": phase_of(view.status, view.phase)},
                        status_code=202, headers={"Location": f"/generation/jobs/{view.job_id}"})


@router.get("/{job_id}", summary="A generation job's status, phase, progress and results",
            response_model=schemas.GenerationOut,
            responses={200: {"content": {"application/json": {"examples": {
                "completed": {"value": ex.GENERATION}, "failed": {"value": ex.GENERATION_FAILED}}}}},
                **responses(JOB_NOT_FOUND, *CLIENT_ID_ERRORS)})
async def read(job_id: str, session: ReadSessionDep, runtime: RuntimeDep, caller: Client) -> dict[str, Any]:
    return await generation_out(session, runtime.blobs, await generation.get_generation(session, caller, job_id))


@router.post("/{job_id}/retry", summary="Run a failed job again from its first unfinished phase", status_code=202,
             response_model=schemas.GenerationOut,
             responses=responses(JOB_NOT_FOUND, (409, "job_not_failed", "only failed jobs can be retried", "jobId"),
                                 *CLIENT_ID_ERRORS))
async def retry(job_id: str, session: SessionDep, runtime: RuntimeDep, caller: GenerationClient) -> dict[str, Any]:
    view = await generation.retry_generation(session, runtime, caller, job_id)
    return await generation_out(session, runtime.blobs, view)


@router.post("/{job_id}/capture", summary="Fetch the provider's finished video into the gallery (idempotent)",
             response_model=schemas.GenerationOut,
             openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"example": {}}}}},
             responses=responses(JOB_NOT_FOUND,
                                 (409, "nothing_to_capture", "this job has no finished provider video", "jobId"),
                                 *CLIENT_ID_ERRORS))
async def capture(job_id: str, session: SessionDep, runtime: RuntimeDep, caller: Client) -> dict[str, Any]:
    view = await generation.capture(session, runtime, caller, job_id)
    return await generation_out(session, runtime.blobs, view)
