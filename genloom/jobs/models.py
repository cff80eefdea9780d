"""Tables of the queue: jobs, their event log, and live workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, JSONType, UTCDateTime, utc_now

#: Owner of rows created by callers with no identity (surfaces in "open" auth mode).
PUBLIC_OWNER = "public"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(80), default=PUBLIC_OWNER)
    parent_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True)
    #: a batch parent: never claimed, finishes when its children have
    is_batch: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str | None] = mapped_column(String(64), nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    surface: Mapped[str | None] = mapped_column(String(32), nullable=True)
    input: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        # The claim query: queued, due, best priority first, then oldest.
        Index("ix_jobs_claim", "status", "is_batch", "priority", "run_at", "id"),
        Index("ix_jobs_owner_created", "owner_id", "id"),
        Index("ix_jobs_parent", "parent_id"),
        Index("ix_jobs_status_finished", "status", "finished_at"),
        Index("ix_jobs_lease", "status", "lease_until"),
        Index(
            "uq_jobs_owner_idempotency",
            "owner_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36))
    owner_id: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        Index("ix_job_events_job", "job_id", "id"),
        Index("ix_job_events_owner", "owner_id", "id"),
        Index("ix_job_events_created", "created_at"),
        {"sqlite_autoincrement": True},
    )


class WorkerRow(Base):
    """A live worker process; heartbeats keep it listed, the janitor prunes stale ones."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    #: the worker's own view of its database as of ``seen_at`` (``genloom.core.outage.Reachability``)
    database: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
