"""Reading and writing room history. A publish is one short write transaction: take the room's next seq,
insert the message, trim the room to its newest ``keep`` messages, and ring the events wake-up (NOTIFY at
commit on PostgreSQL; in-process and Redis right after), so every process's channel hub reads it at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from genloom.channel.models import ChannelMessage, ChannelRoom
from genloom.core.db import Database, retry_busy, utc_now
from genloom.jobs.signals import Signals

rooms_t = cast(Table, ChannelRoom.__table__)
messages_t = cast(Table, ChannelMessage.__table__)
COLUMNS = (messages_t.c.id, messages_t.c.room, messages_t.c.seq, messages_t.c.sender_user,
           messages_t.c.sender_client, messages_t.c.data, messages_t.c.created_at)
PAGE = 500


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    room: str
    seq: int
    sender_user: str | None
    sender_client: str | None
    data: Any
    created_at: datetime


def _message(row: Any) -> Message:
    return Message(id=int(row.id), room=row.room, seq=int(row.seq), sender_user=row.sender_user,
                   sender_client=row.sender_client, data=row.data, created_at=row.created_at)


async def publish(db: Database, signals: Signals, room: str, data: Any, *, sender_user: str | None,
                  sender_client: str | None, keep: int) -> Message:
    """Store one message in ``room`` with the room's next seq; returns it (committed)."""
    values = {"room": room, "last_seq": 1}
    bump = {"last_seq": rooms_t.c.last_seq + 1}
    upsert = (sqlite_insert(rooms_t).values(values).on_conflict_do_update(index_elements=[rooms_t.c.room], set_=bump)
              if db.is_sqlite else
              pg_insert(rooms_t).values(values).on_conflict_do_update(index_elements=[rooms_t.c.room], set_=bump)
              ).returning(rooms_t.c.last_seq)
    now = utc_now()

    async def _write() -> Message:
        async with db.write() as conn:
            seq = int((await conn.execute(upsert)).scalar_one())
            row = (await conn.execute(insert(messages_t).values(
                room=room, seq=seq, sender_user=sender_user, sender_client=sender_client, data=data, created_at=now,
            ).returning(*COLUMNS))).one()
            if seq > keep:
                await conn.execute(delete(messages_t).where(messages_t.c.room == room, messages_t.c.seq <= seq - keep))
            await signals.notify_in_txn(conn, events=True)
        return _message(row)

    message = await retry_busy(_write)
    signals.wake_local(events=True)
    return message


async def last_seq(db: Database, room: str) -> int:
    async with db.reader.connect() as conn:
        value = (await conn.execute(select(rooms_t.c.last_seq).where(rooms_t.c.room == room))).scalar()
    return int(value or 0)


async def history(db: Database, room: str, *, after: int, upto: int) -> tuple[list[Message], bool]:
    """Messages of ``room`` with ``after < seq <= upto`` in order, and whether all of them were still kept
    (False: some were pruned by retention; the client should reload the state it derives from them)."""
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(*COLUMNS).where(
            messages_t.c.room == room, messages_t.c.seq > after, messages_t.c.seq <= upto,
        ).order_by(messages_t.c.seq))).all()
    messages = [_message(r) for r in rows]
    complete = len(messages) == max(0, upto - after)
    return messages, complete


async def tail(db: Database, *, after_id: int, limit: int = PAGE) -> list[Message]:
    """Messages of every room with an id above ``after_id``, in id order (the channel hub's read)."""
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(*COLUMNS).where(messages_t.c.id > after_id)
                                   .order_by(messages_t.c.id).limit(limit))).all()
    return [_message(r) for r in rows]


async def newest_id(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int((await conn.execute(select(func.max(messages_t.c.id)))).scalar() or 0)


async def prune(db: Database, *, older_than_seconds: float) -> int:
    """Drop messages past the retention age; returns how many."""
    cutoff = utc_now() - timedelta(seconds=older_than_seconds)

    async def _delete() -> int:
        async with db.write() as conn:
            result = await conn.execute(delete(messages_t).where(messages_t.c.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    return await retry_busy(_delete)
