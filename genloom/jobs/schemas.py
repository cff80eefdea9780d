"""Request and response shapes of the native job API (snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genloom.core.rfc3339 import Rfc3339

JOB_EXAMPLE: dict[str, Any] = {
    "id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "kind": "image.generate",
    "status": "succeeded",
    "phase": "storing",
    "progress": 100,
    "priority": 0,
    "attempts": 1,
    "max_attempts": 3,
    "input": {"prompt": "a cyberpunk cat in neon city", "width": 1024, "height": 1024, "seed": 12345, "count": 1},
    "result": {
        "images": [{
            "asset_id": "0193a1b2-8000-7000-8000-000000000001",
            "url": "/media/jobs/2026/11/23/0193a1b2/0193a1b2-8000.png?exp=1795000000&sig=ab12",
            "thumbnail_url": "/media/jobs/2026/11/23/0193a1b2/0193a1b2-8001.png?exp=1795000000&sig=cd34",
            "width": 1024, "height": 1024, "mime": "image/png", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        }],
        "prompt": {"final": "a cyberpunk cat in neon city, highly detailed", "negative": ""},
        "provider": "local",
    },
    "error": None,
    "parent_id": None,
    "children": None,
    "owner_id": "public",
    "created_at": "2026-11-23T12:00:00Z",
    "started_at": "2026-11-23T12:00:00.050Z",
    "finished_at": "2026-11-23T12:00:01.200Z",
    "run_at": "2026-11-23T12:00:00Z",
}


class JobError(BaseModel):
    code: str
    message: str
    retryable: bool


class JobRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": JOB_EXAMPLE})

    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    phase: str | None
    progress: int
    priority: int
    attempts: int
    max_attempts: int
    input: dict[str, Any]
    result: dict[str, Any] | None
    error: JobError | None
    parent_id: str | None
    children: dict[str, int] | None = Field(description="Status counts of a batch's children; null for single jobs")
    owner_id: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_at: datetime | None


class JobCreate(BaseModel):
    """One job (``input``) or a batch (``inputs``: one child job per item)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "image.generate", "input": {"prompt": "a cyberpunk cat in neon city", "seed": 12345}},
                {"kind": "image.generate", "inputs": [{"prompt": "a red fox"}, {"prompt": "a blue whale"}],
                 "priority": 5},
                {"kind": "sleep", "input": {"seconds": 2}, "run_at": "2026-11-23T12:00:00Z", "max_attempts": 5},
            ]
        },
    )

    kind: str = Field(min_length=1, max_length=64, examples=["image.generate"])
    input: dict[str, Any] | None = None
    inputs: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher runs first")
    run_at: Rfc3339 | None = Field(default=None, description="Do not start before this time")
    max_attempts: int | None = Field(default=None, ge=1, le=50)
    setting: dict[str, Any] | None = Field(
        default=None,
        description="Task settings shared by every item (Backend2): ratio or size, count/batch_size, seed, model, "
                    "… — see genloom.tasks.setting",
        examples=[{"ratio": "16:9", "batch_size": 2, "seed": 42}],
    )

    @model_validator(mode="after")
    def _one_of(self) -> JobCreate:
        if self.input is not None and self.inputs is not None:
            raise ValueError("send either input or inputs, not both")
        return self


class JobList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [JOB_EXAMPLE], "next_cursor": "MDE5M2ExYjI"}})

    items: list[JobRead]
    next_cursor: str | None


class QueueStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "by_status": {"queued": 3, "running": 2, "succeeded": 120, "failed": 1, "canceled": 0},
                "by_kind": {"image.generate": {"queued": 3, "running": 2, "succeeded": 120}},
                "oldest_queued_age_seconds": 0.42,
                "workers": [{"id": "host:1234:embedded:ab12cd34", "hostname": "host", "pid": 1234, "concurrency": 4,
                             "seen_at": "2026-11-23T12:00:00Z",
                             "database": {"reachable": True, "since": "2026-11-23T11:58:03.120Z",
                                          "last_error": "ConnectionRefusedError: [Errno 111] Connect call failed",
                                          "last_error_at": "2026-11-23T11:58:01.904Z", "outages": 1}}],
                "active": 5,
                "database": {"reachable": True, "since": "2026-11-23T11:00:00Z", "last_error": None,
                             "last_error_at": None, "outages": 0},
            }
        }
    )

    by_status: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    oldest_queued_age_seconds: float
    #: each worker as of its last heartbeat, with its own view of the database (``database``)
    workers: list[dict[str, Any]]
    active: int
    #: this API process's view of the database: reachable, since when, the last connection error, outages seen
    database: dict[str, Any]
