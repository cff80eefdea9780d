"""Tables of growth: one current analysis per artwork, one profile per owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, JSONType, UTCDateTime, utc_now


class Analysis(Base):
    __tablename__ = "ai_analyses"

    artwork_id: Mapped[str] = mapped_column(String(36), ForeignKey("artworks.id", ondelete="CASCADE"), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    #: pending | completed | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    abilities: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (Index("ix_ai_analyses_owner_status", "owner_id", "status"),)


class Profile(Base):
    """The child's profile (anonymous: a nickname, an age, a few words, an avatar)."""

    __tablename__ = "growth_profiles"

    owner_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    nickname: Mapped[str | None] = mapped_column(String(40), nullable=True)
    age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    avatar_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
