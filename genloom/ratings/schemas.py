"""Shapes of ratings and of a task's subtask view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RatingWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"example": {"score": 4, "comment": "good colours, hands are off"}})

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class RatingRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "job_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "score": 4, "comment": "good colours, hands are off",
        "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:05:00Z"}})

    job_id: str
    score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


class SubtaskRead(BaseModel):
    id: str
    status: str
    progress: int
    input: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    rating: RatingRead | None


class TaskProgress(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "status": "running", "progress": 50, "total": 2, "finished": 1,
        "counts": {"succeeded": 1, "running": 1},
        "subtasks": [{"id": "0193a1b2-…", "status": "succeeded", "progress": 100, "input": {"prompt": "a red fox"},
                      "result": {"images": []}, "error": None,
                      "rating": {"job_id": "0193a1b2-…", "score": 5, "comment": None,
                                 "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:00:00Z"}}]}})

    id: str
    status: str
    #: the share of finished subtasks, 0-100
    progress: int
    total: int
    finished: int
    counts: dict[str, int]
    subtasks: list[SubtaskRead]
