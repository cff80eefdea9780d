"""Rate-limit counters: one row per (rule, subject, window); rows past ``expires_at`` are dead and swept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime


class RateCounter(Base):
    __tablename__ = "rate_counters"

    #: ``{rule}:{subject}:{window start, unix seconds}``
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rate_counters_expires", "expires_at"),)
