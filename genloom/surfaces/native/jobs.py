"""Native job API: ``/v1/jobs`` and ``/v1/queue``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from genloom.core.http import problem_title
from genloom.core.paging import CURSOR_DESCRIPTION, CURSOR_PATTERN
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import NativeCaller, caller_of
from genloom.jobs import service
from genloom.jobs.errors import JobNotFound, JobStateConflict
from genloom.jobs.schemas import JOB_EXAMPLE, JobCreate, JobList, JobRead, QueueStats
from genloom.jobs.states import JobStatus
from genloom.tasks.setting import apply_setting

router = APIRouter(prefix="/v1", tags=["Jobs"])

#: what POST /v1/jobs answers: the job as committed, before any worker touched it
QUEUED_EXAMPLE = {**JOB_EXAMPLE, "status": "queued", "phase": None, "progress": 0, "attempts": 0, "result": None,
                  "error": None, "started_at": None, "finished_at": None}


def _problem(code: str, status: int, message: str) -> dict[str, Any]:
    example = {"type": f"https://genloom.dev/errors/{code}", "title": problem_title(status, code), "status": status,
               "code": code,
               "message": message, "detail": message, "instance": "/v1/jobs/…"}
    return {"description": message, "content": {"application/problem+json": {"example": example}}}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _problem(JobNotFound.default_code, 404, "Job not found.")}
INVALID: dict[int | str, dict[str, Any]] = {400: _problem("validation_error", 400, "input.prompt: String should have at least 1 character")}


@router.post(
    "/jobs", status_code=202, response_model=JobRead,
    responses={**INVALID, 202: {"content": {"application/json": {"example": QUEUED_EXAMPLE}}}},
    summary="Create a job or a batch",
)
async def create_job(
    body: JobCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: NativeCaller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    # no input at all is an empty input ({"kind": "noop"}): a kind that needs fields names the missing one
    job_input = body.input if body.input is not None or body.inputs is not None else {}
    job_inputs = body.inputs
    if body.setting is not None:  # seed 002 tasks: one setting merged into every subtask's input
        items = job_inputs if job_inputs is not None else [job_input or {}]
        merged = apply_setting(runtime.kinds, body.kind, body.setting, items)
        job_input, job_inputs = (None, merged) if job_inputs is not None else (merged[0], None)
    return await service.create_job(
        session, runtime, caller, kind=body.kind, input=job_input, inputs=job_inputs, priority=body.priority,
        run_at=body.run_at, max_attempts=body.max_attempts, idempotency_key=idempotency_key, surface="native",
    )


@router.get("/jobs", response_model=JobList, responses=INVALID, summary="List jobs, newest first")
async def list_jobs(
    session: ReadSessionDep,
    caller: NativeCaller,
    status: Annotated[str | None, Query(description="queued | running | succeeded | failed | canceled",
                                        json_schema_extra={"enum": [s.value for s in JobStatus]})] = None,
    kind: str | None = None,
    parent_id: Annotated[str | None, Query(description="List a batch's children")] = None,
    mine: Annotated[bool, Query(description="Only my jobs (admins otherwise see everyone's)")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION,
                                        json_schema_extra={"pattern": CURSOR_PATTERN})] = None,
) -> dict[str, Any]:
    items, next_cursor = await service.list_jobs(
        session, caller, status=status, kind=kind, parent_id=parent_id, mine=mine, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/jobs/{job_id}", responses={**NOT_FOUND, 200: {"model": JobRead, "content": {"application/json": {"example": JOB_EXAMPLE}}}},
    summary="Get a job", openapi_extra={"security": [{"Bearer": []}, {"ClientId": []}, {}]},
)
async def get_job(job_id: str, request: Request) -> JSONResponse:
    # Hot path (clients poll it): no dependency graph, no ORM session, no response-model validation;
    # the read model serves it.
    caller = await caller_of(request, "native")
    return JSONResponse(await service.read_job(request.app.state.runtime, caller, job_id))


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobRead,
    responses={**NOT_FOUND, 409: _problem(JobStateConflict.default_code, 409, "job is already succeeded")},
    summary="Cancel a job (queued: at once; running: the worker stops at its next step)",
)
async def cancel_job(job_id: str, session: SessionDep, runtime: RuntimeDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.cancel_job(session, runtime, caller, job_id)


@router.post(
    "/jobs/{job_id}/retry", status_code=202, response_model=JobRead,
    responses={**NOT_FOUND, 409: _problem(JobStateConflict.default_code, 409, "only failed or canceled jobs can be retried")},
    summary="Queue a failed or canceled job again",
)
async def retry_job(job_id: str, session: SessionDep, runtime: RuntimeDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.retry_job(session, runtime, caller, job_id)


@router.get("/queue", response_model=QueueStats, tags=["System"], summary="Queue depth, oldest wait, live workers")
async def queue_stats(session: ReadSessionDep, runtime: RuntimeDep, caller: NativeCaller) -> dict[str, Any]:
    # this replica's own view of the database next to each worker's (as of its last heartbeat)
    return await service.queue_stats(session, caller) | {"database": runtime.db.reachability.snapshot()}
