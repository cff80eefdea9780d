"""Starting a turn — a message in a conversation or a completion at a cursor of an article — in one write
transaction: it takes the conversation's next two places (an ``UPDATE … RETURNING`` that also reads the prompt
and summary, and on PostgreSQL holds the session row so turns of one session queue), checks the rate limits,
reads the newest turns the token budget can hold and the article, and stores the user's message with the empty
reply beside it. After the commit the reply's task plans the context from what was read and calls the provider
at once: no second round trip to the database stands between the request and the first token.

A completion that names no session goes to the caller's *completions* session of the article, made by the
first one: continuations and rewrites are kept (history, usage, resume, cancel) without crowding a
conversation, and follow-ups ("shorter", "again, more formal") see the earlier ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.assistant import context, limits
from genloom.assistant.errors import ArticleNotFound, SessionNotFound
from genloom.assistant.generation import AssistantDeps, run_reply
from genloom.assistant.models import AssistantMessage, AssistantSession, AssistantUsage
from genloom.assistant.streams import LiveReply
from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.ids import new_id
from genloom.core.principal import Principal, may_read

RESOURCE = "assistant"
MAX_MESSAGE_CHARS = 32_000
_sessions = cast(Table, AssistantSession.__table__)
_messages = cast(Table, AssistantMessage.__table__)
_usage = cast(Table, AssistantUsage.__table__)


@dataclass(slots=True)
class Turn:
    user: AssistantMessage
    reply: AssistantMessage
    live: LiveReply


@dataclass(slots=True, frozen=True)
class Ask:
    """What a turn asks."""

    #: stored as the user's message
    content: str
    #: sent as the user's turn: the content, or the instruction with where the cursor is
    prompt: str
    #: the usage row's kind (chat | complete)
    kind: str = "chat"
    #: the article's title and text when the caller read it already (a completion), else the session's is read
    article: tuple[str, str] | None = None
    cursor: int | None = None


def checked_content(content: str, field: str = "content") -> str:
    text = content.strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"{field} is longer than {MAX_MESSAGE_CHARS} characters", field=field)
    return text


async def start_turn(deps: AssistantDeps, principal: Principal, session_id: str, content: str) -> Turn:
    """A message in a conversation: stored with its empty reply, committed, and the reply's task started."""
    text = checked_content(content)
    async with deps.db.session() as s:
        row, inputs, usage_id = await _begin(deps, s, principal, session_id, Ask(content=text, prompt=text))
    return _launch(deps, row, inputs, usage_id)


async def start_completion(deps: AssistantDeps, principal: Principal, *, article_id: str, cursor: int | None,
                           instruction: str, session_id: str | None = None) -> Turn:
    """A continuation (or the rewrite the instruction asks for) at ``cursor`` of the article, as a turn of
    ``session_id`` (a session of this article or of none) or of the caller's completions session of it."""
    text = checked_content(instruction, "instruction")
    for attempt in (1, 2):
        try:
            async with deps.db.session() as s:
                article = await deps.articles(s, principal, article_id)
                if article is None:
                    raise ArticleNotFound(field="articleId")
                title, body = article
                at = len(body) if cursor is None else max(0, min(cursor, len(body)))
                prompt = f"{text}\n(The cursor is after: \"{body[max(0, at - 80):at]}\")"
                target = session_id or await _completions_session(s, principal, article_id, title)
                ask = Ask(content=text, prompt=prompt, kind="complete", article=article, cursor=at)
                row, inputs, usage_id = await _begin(deps, s, principal, target, ask, article_id=article_id)
            return _launch(deps, row, inputs, usage_id)
        except IntegrityError:
            if attempt == 2 or session_id is not None:
                raise
    raise AssertionError("unreachable")


async def _completions_session(s: AsyncSession, principal: Principal, article_id: str, title: str) -> str:
    """The caller's completions session of the article, made now if this is its first completion (a second
    one made at the same moment fails on the unique index and the caller retries)."""
    if principal.user_id is None:
        raise InvalidInput("sign in to use the assistant", code="not_authenticated")
    t = _sessions
    found = (await s.execute(select(t.c.id).where(t.c.owner_id == principal.owner_id, t.c.article_id == article_id,
                                                  t.c.kind == "completions"))).scalar()
    if found is not None:
        return str(found)
    now = utc_now()
    session_id = new_id()
    await s.execute(insert(t).values(id=session_id, owner_id=principal.owner_id, user_id=principal.user_id,
                                     article_id=article_id, kind="completions", title=title[:200], system="",
                                     summary="", summary_through=0, next_seq=1, created_at=now, updated_at=now))
    return session_id


async def _begin(deps: AssistantDeps, s: AsyncSession, principal: Principal, session_id: str, ask: Ask, *,
                 article_id: str | None = None) -> tuple[dict[str, Any], context.Inputs, str]:
    t, m = _sessions, _messages
    now = utc_now()
    chat = (await s.execute(
        update(t).where(t.c.id == session_id)
        .values(next_seq=t.c.next_seq + 2, updated_at=now,
                title=case((t.c.title == "", ask.content[:60]), else_=t.c.title))
        .returning(t.c.owner_id, t.c.next_seq, t.c.kind, t.c.article_id, t.c.system, t.c.summary,
                   t.c.summary_through)
    )).first()
    if chat is None or not may_read(principal, chat.owner_id, RESOURCE):
        raise SessionNotFound(field="sessionId")  # rolls the claim back
    if article_id is not None and chat.article_id not in (None, article_id):
        raise InvalidInput("the session is about another article", field="sessionId")
    await limits.check(s, deps.settings, chat.owner_id)
    seq = chat.next_seq - 2
    history = (await s.execute(
        select(m.c.seq, m.c.role, m.c.content)
        .where(m.c.session_id == session_id, m.c.seq < seq, m.c.status.in_(("complete", "incomplete")),
               m.c.content != "")
        .order_by(m.c.seq.desc()).limit(context.history_limit(deps.settings.assistant_context_tokens))
    )).all()
    article = ask.article
    if article is None and chat.article_id:
        article = await deps.articles(s, principal, chat.article_id)
    base = {"session_id": session_id, "owner_id": chat.owner_id, "created_at": now, "prompt_tokens": 0,
            "completion_tokens": 0, "cancel_requested": False, "finish_reason": None, "error_code": None,
            "error_message": None, "provider": None, "model": None}
    user = {**base, "id": new_id(), "seq": seq, "role": "user", "content": ask.content, "status": "complete",
            "finished_at": now}
    reply = {**base, "id": new_id(), "seq": seq + 1, "role": "assistant", "content": "", "status": "streaming",
             "finished_at": None}
    usage = limits.usage_values(chat.owner_id, ask.kind, message_id=reply["id"])
    await s.execute(insert(m).values([user, reply]))
    await s.execute(insert(_usage).values(**usage))
    system = chat.system or (context.COMPLETE_SYSTEM if chat.kind == "completions" else "")
    inputs = context.Inputs(system=system, summary=chat.summary, summary_through=chat.summary_through,
                            article=article, history=[context.Turn(*r) for r in reversed(history)],
                            prompt=ask.prompt, cursor=ask.cursor)
    return {"user": user, "reply": reply}, inputs, str(usage["id"])


def _launch(deps: AssistantDeps, rows: dict[str, Any], inputs: context.Inputs, usage_id: str) -> Turn:
    user, reply = AssistantMessage(**rows["user"]), AssistantMessage(**rows["reply"])
    live = LiveReply(message_id=reply.id, session_id=reply.session_id, owner_id=reply.owner_id)
    deps.streams.add(live)
    live.task = asyncio.create_task(run_reply(deps, live, inputs, usage_id), name=f"assistant-reply-{reply.id}")
    return Turn(user=user, reply=reply, live=live)
