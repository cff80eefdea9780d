"""The queue, its workers, and the live event stream."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode


class QueueSettings(BaseSettings):
    workers: int = Field(default=4, ge=0, le=256)
    lease_seconds: float = Field(default=60.0, ge=1.0)
    job_max_attempts: int = Field(default=3, ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, ge=0.0)
    retry_cap_seconds: float = Field(default=300.0, ge=0.0)
    kind_concurrency: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    retention_hours: float = Field(default=24.0, ge=24.0)
    janitor_interval_seconds: float = Field(default=30.0, gt=0)
    idempotency_hours: float = Field(default=24.0, gt=0)

    # events
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    event_queue_size: int = Field(default=1000, ge=10)
    event_poll_seconds: float = Field(default=0.25, gt=0)
    # job snapshots kept in memory for status polling (0 turns the cache off); see docs/events.md
    read_cache_size: int = Field(default=10_000, ge=0)

    @field_validator("kind_concurrency", mode="before")
    @classmethod
    def _parse_kinds(cls, value: Any) -> Any:
        # "image.generate=2,video.generate=1" is friendlier in a .env than JSON; both are accepted.
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                return json.loads(value)
            out: dict[str, int] = {}
            for part in value.split(","):
                if not part.strip():
                    continue
                kind, sep, limit = part.partition("=")
                if not sep or not kind.strip():
                    raise ValueError(f"expected kind=limit pairs separated by commas, got {part.strip()!r}")
                out[kind.strip()] = int(limit)
            return out
        return value
