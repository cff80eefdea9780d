"""Core (non-ORM) handles on the queue tables, for the hot paths that issue single statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from genloom.jobs.models import Job, JobEvent
from genloom.jobs.states import EventType

jobs_t = cast(Table, Job.__table__)
events_t = cast(Table, JobEvent.__table__)


def event_row(job_id: str, owner_id: str, type_: EventType, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The values of one ``job_events`` row."""
    return {"job_id": job_id, "owner_id": owner_id, "type": type_.value, "data": data, "created_at": now}
