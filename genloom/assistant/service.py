"""The writing assistant's rules: sessions owned by one user, their message history, turns that stream, cancel,
and following a reply live or from its stored row (any process, after any disconnect)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.assistant.errors import ArticleNotFound, MessageNotFound, ReplyFinished, SessionNotFound
from genloom.assistant.generation import AssistantDeps, done_event
from genloom.assistant.models import AssistantMessage, AssistantSession
from genloom.assistant.streams import KEEPALIVE, StreamEvent
from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.ids import new_id
from genloom.core.paging import decode_cursor, decode_offset_cursor, encode_cursor, encode_offset_cursor
from genloom.core.principal import Principal, may_read

RESOURCE = "assistant"


def _visible(principal: Principal, owner_id: str) -> bool:
    return may_read(principal, owner_id, RESOURCE)


async def create_session(deps: AssistantDeps, s: AsyncSession, principal: Principal, *, article_id: str | None,
                         system: str, title: str) -> AssistantSession:
    if principal.user_id is None:
        raise InvalidInput("sign in to use the assistant", code="not_authenticated")
    if article_id is not None and await deps.articles(s, principal, article_id) is None:
        raise ArticleNotFound(field="articleId")
    now = utc_now()
    chat = AssistantSession(id=new_id(), owner_id=principal.owner_id, user_id=principal.user_id, article_id=article_id,
                            title=title.strip(), system=system, summary="", summary_through=0, next_seq=1,
                            created_at=now, updated_at=now)
    s.add(chat)
    await s.flush()
    return chat


async def get_session(s: AsyncSession, principal: Principal, session_id: str) -> AssistantSession:
    chat = await s.get(AssistantSession, session_id)
    if chat is None or not _visible(principal, chat.owner_id):
        raise SessionNotFound(field="sessionId")
    return chat


async def list_sessions(s: AsyncSession, principal: Principal, *, cursor: str | None,
                        limit: int) -> tuple[list[AssistantSession], str | None]:
    """The caller's sessions, newest first (ids are time-ordered)."""
    stmt = select(AssistantSession).where(AssistantSession.owner_id == principal.owner_id)
    if cursor:
        stmt = stmt.where(AssistantSession.id < decode_cursor(cursor))
    rows = list((await s.execute(stmt.order_by(AssistantSession.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None


async def delete_session(deps: AssistantDeps, s: AsyncSession, principal: Principal, session_id: str) -> None:
    chat = await get_session(s, principal, session_id)
    running = (await s.execute(select(AssistantMessage.id).where(
        AssistantMessage.session_id == chat.id, AssistantMessage.status == "streaming"))).scalars().all()
    for message_id in running:
        deps.streams.cancel(message_id)
    await s.execute(delete(AssistantMessage).where(AssistantMessage.session_id == chat.id))
    await s.delete(chat)


async def list_messages(s: AsyncSession, principal: Principal, session_id: str, *, cursor: str | None,
                        limit: int) -> tuple[list[AssistantMessage], str | None]:
    """The conversation in order (oldest first); ``nextCursor`` continues with newer messages."""
    chat = await get_session(s, principal, session_id)
    after = decode_offset_cursor(cursor) if cursor else 0
    rows = list((await s.execute(
        select(AssistantMessage).where(AssistantMessage.session_id == chat.id, AssistantMessage.seq > after)
        .order_by(AssistantMessage.seq).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_offset_cursor(rows[-1].seq) if more and rows else None


async def get_message(s: AsyncSession, principal: Principal, session_id: str, message_id: str) -> AssistantMessage:
    chat = await get_session(s, principal, session_id)
    message = await s.get(AssistantMessage, message_id)
    if message is None or message.session_id != chat.id:
        raise MessageNotFound(field="messageId")
    return message


async def cancel(deps: AssistantDeps, principal: Principal, session_id: str, message_id: str) -> None:
    """Stop a running reply: at once when it runs here, else at the running process's next flush."""
    async with deps.db.session() as s:
        message = await get_message(s, principal, session_id, message_id)
        if message.role != "assistant" or message.status != "streaming":
            raise ReplyFinished(field="messageId")
        message.cancel_requested = True
    live = deps.streams.get(message_id)
    if live is not None and deps.streams.cancel(message_id) and live.task is not None:
        await asyncio.wait({live.task}, timeout=10)


async def follow(deps: AssistantDeps, principal: Principal, session_id: str, message_id: str, after: int = 0, *,
                 keepalive: float | None = None) -> AsyncIterator[StreamEvent]:
    """The reply's events after character ``after``: live when it runs in this process, else from its row
    (polled while another process is still writing it); a ``keepalive`` event after that many quiet seconds."""
    async with deps.db.read_session() as s:
        message = await get_message(s, principal, session_id, message_id)
        if message.role != "assistant":
            raise MessageNotFound("only assistant replies stream", field="messageId")
    live = deps.streams.get(message_id)
    if live is not None:
        async for event in live.follow(after, keepalive=keepalive):
            yield event
        return
    sent, spoke = after, time.monotonic()
    while True:
        async with deps.db.read_session() as s:
            row = await s.get(AssistantMessage, message_id)
        if row is None:
            return
        if len(row.content) > sent:
            yield StreamEvent("token", {"delta": row.content[sent:]}, id=len(row.content))
            sent, spoke = len(row.content), time.monotonic()
        if row.status != "streaming":
            yield final_event(row)
            return
        if keepalive is not None and time.monotonic() - spoke >= keepalive:
            yield KEEPALIVE
            spoke = time.monotonic()
        await asyncio.sleep(deps.settings.assistant_flush_seconds)


def final_event(row: AssistantMessage) -> StreamEvent:
    if row.status == "failed":
        return StreamEvent("error", {"messageId": row.id, "code": row.error_code or "internal_error",
                                     "message": row.error_message or "the reply failed"})
    return done_event(row.id, row.status, row.finish_reason, row.prompt_tokens, row.completion_tokens)
