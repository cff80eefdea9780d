"""Tables of the realtime channel.

``channel_rooms.last_seq`` hands out each room's sequence numbers: a publish increments it under the row's
lock, so within one room messages commit in seq order on every database and a reader that sees seq n has seen
every seq below it. ``channel_messages`` keeps what was published for the retention window (age and count
per room), so a client that reconnects to any process resumes with nothing missed. Room rows are never
deleted: a room's numbering never starts over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, JSONType, UTCDateTime, utc_now

#: BIGINT on PostgreSQL; INTEGER on SQLite, where only that name makes the column the rowid (auto-assigned)
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ChannelRoom(Base):
    __tablename__ = "channel_rooms"

    room: Mapped[str] = mapped_column(String(160), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class ChannelMessage(Base):
    __tablename__ = "channel_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(160))
    seq: Mapped[int] = mapped_column(BigInteger)
    #: who published: the user and the client (device) id they connected with
    sender_user: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sender_client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        UniqueConstraint("room", "seq", name="uq_channel_messages_room_seq"),
        Index("ix_channel_messages_created", "created_at"),
        # never reuse an id after pruning emptied the table: the hubs' scan positions would skip the new rows
        {"sqlite_autoincrement": True},
    )
