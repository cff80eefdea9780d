"""Tables of the writing assistant: sessions (with their running summary), messages, and usage per call.

A reply is a row from the moment it starts (``status = streaming``) and its text is flushed as it grows, so a
client that reconnects to any API process can replay what it missed; ``cancel_requested`` lets a process that
does not run the reply ask the one that does to stop it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime, utc_now


class AssistantSession(Base):
    __tablename__ = "assistant_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    #: the article the conversation is about (its latest text goes into the context); no foreign key: a
    #: deleted article leaves the conversation readable
    article_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    #: chat (made by POST /assistant/sessions) | completions (one per user and article, made by the first
    #: POST /assistant/complete that names no session: the article's continuations and rewrites)
    kind: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")
    system: Mapped[str] = mapped_column(Text, default="")
    #: older turns folded into prose by the text provider, and the last message seq it covers
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_through: Mapped[int] = mapped_column(Integer, default=0)
    #: the next message seq to hand out
    next_seq: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        Index("ix_assistant_sessions_owner_updated", "owner_id", "updated_at"),
        # two first completions of one article at once make one session: the second insert fails and retries
        Index("uq_assistant_sessions_completions", "owner_id", "article_id", unique=True,
              sqlite_where=text("kind = 'completions'"), postgresql_where=text("kind = 'completions'")),
    )


class AssistantMessage(Base):
    __tablename__ = "assistant_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), ForeignKey("assistant_sessions.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(String(80))
    #: position in the conversation (1, 2, …)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text, default="")
    #: complete | streaming | incomplete (canceled or cut by shutdown) | failed
    status: Mapped[str] = mapped_column(String(16), default="complete")
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_assistant_messages_session_seq", "session_id", "seq", unique=True),)


class AssistantUsage(Base):
    """One row per provider call made for a user: what rate limits count and usage reports sum."""

    __tablename__ = "assistant_usage"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    #: chat | summary | analyze | complete
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    provider: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (Index("ix_assistant_usage_owner_created", "owner_id", "created_at"),)
