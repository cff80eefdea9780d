"""``/v1/jobs/{id}/rating`` and ``/v1/jobs/{id}/subtasks`` (seed 002's tasks, subtasks and ratings)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from genloom.deps import CallerDep, ReadSessionDep, SessionDep
from genloom.ratings import service
from genloom.ratings.schemas import RatingRead, RatingWrite, TaskProgress

router = APIRouter(prefix="/v1", tags=["Ratings"])
NativeCaller = CallerDep("native")


@router.put("/jobs/{job_id}/rating", response_model=RatingRead,
            summary="Rate a succeeded subtask 1-5 (its owner only); replaces an earlier rating")
async def rate_job(job_id: str, body: RatingWrite, session: SessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.rate_job(session, caller, job_id, score=body.score, comment=body.comment)


@router.get("/jobs/{job_id}/rating", response_model=RatingRead, summary="A subtask's rating")
async def get_rating(job_id: str, session: ReadSessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.get_rating(session, caller, job_id)


@router.delete("/jobs/{job_id}/rating", status_code=204, summary="Remove your rating of a subtask")
async def delete_rating(job_id: str, session: SessionDep, caller: NativeCaller) -> Response:
    await service.delete_rating(session, caller, job_id)
    return Response(status_code=204)


@router.get("/jobs/{job_id}/subtasks", response_model=TaskProgress, tags=["Jobs"],
            summary="A task's subtasks with their progress, results and ratings")
async def task_progress(job_id: str, session: ReadSessionDep, caller: NativeCaller) -> dict[str, Any]:
    return await service.task_progress(session, caller, job_id)
