"""``/v1/jobs/{id}/rating`` and ``/v1/jobs/{id}/subtasks`` (seed 002's tasks, subtasks and ratings)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from genloom.deps import ReadSessionDep, SessionDep
from genloom.identity.deps import NativeCaller
from genloom.ratings import service
from genloom.ratings.schemas import RatingRead, RatingWrite, TaskProgress

router = APIRouter(prefix="/v1", tags=["Ratings"])


def _problem(status: int, code: str, message: str) -> dict[str, Any]:
    body = {"code": code, "message": message, "status": status}
    return {"description": message, "content": {"application/problem+json": {"example": body}}}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _problem(404, "job_not_found", "Job not found.")}


@router.put("/jobs/{job_id}/rating", response_model=RatingRead,
            responses={**NOT_FOUND, 403: _problem(403, "not_job_owner", "Only the owner of a job can rate it."),
                       409: _problem(409, "not_ratable", "only a succeeded subtask can be rated; this one is running")},
            summary="Rate a succeeded subtask 1-5 (its owner only); replaces an earlier rating")
async def rate_job(job_id: str, body: RatingWrite, session: SessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.rate_job(session, caller, job_id, score=body.score, comment=body.comment)


@router.get("/jobs/{job_id}/rating", response_model=RatingRead, summary="A subtask's rating",
            responses={404: _problem(404, "rating_not_found", "This job has no rating (or the job is "
                                                                           "not found: code job_not_found).")})
async def get_rating(job_id: str, session: ReadSessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.get_rating(session, caller, job_id)


@router.delete("/jobs/{job_id}/rating", status_code=204, summary="Remove your rating of a subtask",
               responses={**NOT_FOUND, 403: _problem(403, "not_job_owner", "Only the owner of a job can rate it.")})
async def delete_rating(job_id: str, session: SessionDep, caller: NativeCaller) -> Response:
    await service.delete_rating(session, caller, job_id)
    return Response(status_code=204)


@router.get("/jobs/{job_id}/subtasks", response_model=TaskProgress, tags=["Jobs"], responses=NOT_FOUND,
            summary="A task's subtasks with their progress, results and ratings")
async def task_progress(job_id: str, session: ReadSessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.task_progress(session, caller, job_id)
