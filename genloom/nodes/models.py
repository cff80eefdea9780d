"""The ``mind_nodes`` table: text nodes of a mind map, versioned for optimistic locking, soft-deletable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime, utc_now


class MindNode(Base):
    __tablename__ = "mind_nodes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    content: Mapped[str] = mapped_column(Text)
    #: active | archived (see NodeStatus)
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: starts at 1, +1 on every change; the ETag is derived from (id, version)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    #: set by DELETE (soft delete), cleared by restore
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        # list: live nodes of one owner, newest change first (the default sort)
        Index("ix_mind_nodes_owner_updated", "owner_id", "deleted_at", "updated_at"),
        Index("ix_mind_nodes_owner_status", "owner_id", "status"),
        Index("ix_mind_nodes_owner_created", "owner_id", "created_at"),
    )
