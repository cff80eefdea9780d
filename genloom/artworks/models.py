"""Tables of artworks: the artworks, the upload reservations that name their files, and one row per
generation job holding what each finished phase produced (so a retry resumes instead of paying twice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime, utc_now

#: reserved: an id handed out by a presign, not created yet (invisible); draft: created, no video; ready: animated
ARTWORK_STATUSES = ("reserved", "draft", "ready")


class Artwork(Base):
    __tablename__ = "artworks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    cover_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    thumb_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    audio_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    video_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    poster_asset_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: asr (speech recognition) | client (sent with the artwork or the job) | parent (corrected by PATCH)
    transcript_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    story: Mapped[str | None] = mapped_column(Text, nullable=True)
    video_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        Index("ix_artworks_owner_status", "owner_id", "status", "id"),
        Index("ix_artworks_status_created", "status", "created_at"),
    )


class Upload(Base):
    """A key handed out for a file of an artwork: pending until committed (then it names the asset's file)."""

    __tablename__ = "artwork_uploads"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    artwork_id: Mapped[str] = mapped_column(String(36), ForeignKey("artworks.id", ondelete="CASCADE"))
    #: original | thumb | audio | video
    type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    #: pending | committed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    asset_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        UniqueConstraint("artwork_id", "type", "version", name="uq_artwork_uploads_version"),
        Index("ix_artwork_uploads_state_created", "state", "created_at"),
        Index("ix_artwork_uploads_artwork", "artwork_id"),
    )


class Generation(Base):
    """The checkpoints of one generation job (``artwork.generate``), keyed by the job id."""

    __tablename__ = "artwork_generations"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    artwork_id: Mapped[str] = mapped_column(String(36), ForeignKey("artworks.id", ondelete="CASCADE"))
    #: the narration sent with the job (used instead of speech recognition)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    transcript_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    story: Mapped[str | None] = mapped_column(Text, nullable=True)
    video_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the video provider's task, once submitted: polled again on retry or capture rather than resubmitted
    provider_task_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    video_asset_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    poster_asset_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (Index("ix_artwork_generations_artwork", "artwork_id", "created_at"),)
