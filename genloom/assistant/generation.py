"""Running one reply: build the context (folding old turns into the summary when needed), stream the
provider's answer into the live reply and, now and then, into its row; store it whole at the end.

The reply runs in its own task, not in the request: a client that disconnects stops following, never the
reply. Only :meth:`ReplyStreams.cancel` (here) or the row's ``cancel_requested`` (seen at the next flush, from
any process) stops it, which closes the provider's HTTP stream; it is then stored as far as it got, marked
``incomplete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.assistant import context, limits
from genloom.assistant.models import AssistantMessage, AssistantSession
from genloom.assistant.streams import LiveReply, ReplyStreams, StreamEvent
from genloom.assistant.tokens import counter_for
from genloom.core.db import Database, utc_now
from genloom.core.principal import Principal
from genloom.core.settings import Settings
from genloom.providers.base import ChatMessage, ProviderError, TextProvider, stream_chunks
from genloom.providers.local.writer import LocalWriterProvider

log = logging.getLogger("genloom.assistant")

#: (session, caller, article id) -> (title, latest text), or None when the caller may not read it
ArticleReader = Callable[[AsyncSession, Principal, str], Awaitable[tuple[str, str] | None]]
SUMMARY_WORDS = 120


@dataclass
class AssistantDeps:
    """What the assistant needs of the process: built once by the surface that serves it."""

    db: Database
    settings: Settings
    text: TextProvider
    streams: ReplyStreams
    articles: ArticleReader
    fallback: TextProvider | None = None


def writer_for(provider: TextProvider) -> TextProvider:
    """The provider that answers the writer: the configured one, or the offline writer instead of the offline
    prompt builder (which refines image prompts and is no conversation partner)."""
    return LocalWriterProvider() if provider.name == "local" else provider


def model_of(provider: TextProvider) -> str:
    return str(getattr(provider, "model", "") or provider.name)


def provider_failure(exc: ProviderError) -> StreamEvent:
    return StreamEvent("error", {"code": "provider_unavailable", "reason": exc.code,
                                 "message": f"the text provider is unavailable: {exc.message}"[:500]})


async def turns_to_fold(deps: AssistantDeps, session_id: str, after: int, through: int) -> list[context.Turn]:
    """The stored turns after seq ``after`` up to ``through``: all of them, however many the budget's window read."""
    m = AssistantMessage
    async with deps.db.read_session() as s:
        rows = (await s.execute(
            select(m.seq, m.role, m.content)
            .where(m.session_id == session_id, m.seq > after, m.seq <= through,
                   m.status.in_(("complete", "incomplete")), m.content != "")
            .order_by(m.seq)
        )).all()
    return [context.Turn(seq, role, content) for seq, role, content in rows]


async def build_context(deps: AssistantDeps, provider: TextProvider, reply: LiveReply,
                        inputs: context.Inputs) -> context.Plan:
    """The turn's messages from what the turn's transaction read; no database work unless turns that no longer
    fit must first be folded into the session's summary (then ``inputs`` carries the new summary on)."""
    count = counter_for(model_of(provider))
    settings = deps.settings
    article = inputs.article
    excerpt = (article[0], context.clip(article[1], settings.assistant_excerpt_tokens, count, around=inputs.cursor)
               ) if article else None

    def make() -> context.Plan:
        return context.plan(system=inputs.system, summary=inputs.summary, summary_through=inputs.summary_through,
                            article=excerpt, history=inputs.history, user_text=inputs.prompt,
                            budget=settings.assistant_context_tokens, count=count)

    planned = make()
    if planned.to_fold:
        folding = await turns_to_fold(deps, reply.session_id, inputs.summary_through, planned.to_fold[-1].seq)
        request = context.summary_request(inputs.summary, folding, limit_words=SUMMARY_WORDS)
        result = await provider.complete(request, temperature=0.2, max_tokens=SUMMARY_WORDS * 2)
        inputs.summary = context.clip(result.text.strip(), settings.assistant_context_tokens // 5, count)
        inputs.summary_through = planned.to_fold[-1].seq
        async with deps.db.session() as s:
            await s.execute(update(AssistantSession).where(AssistantSession.id == reply.session_id)
                            .values(summary=inputs.summary, summary_through=inputs.summary_through))
            limits.record(s, reply.owner_id, "summary", provider=provider.name, model=model_of(provider),
                          prompt_tokens=int(result.usage.get("prompt_tokens", 0)),
                          completion_tokens=int(result.usage.get("completion_tokens", 0)))
        planned = make()
    return planned


class _Flusher:
    """Writes the text so far every ``every`` seconds in the background and notices a cancel request."""

    def __init__(self, db: Database, reply: LiveReply, every: float) -> None:
        self.db, self.reply, self.every = db, reply, every
        self.last = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        #: set once the reply stopped streaming: a cancel seen now would interrupt its storing
        self.finishing = False

    def maybe(self) -> None:
        if time.monotonic() - self.last >= self.every and (self.task is None or self.task.done()):
            self.last = time.monotonic()
            self.task = asyncio.create_task(self._flush(self.reply.text))

    async def _flush(self, text: str) -> None:
        try:
            async with self.db.session() as s:
                await s.execute(update(AssistantMessage).where(AssistantMessage.id == self.reply.message_id)
                                .values(content=text))
                wanted = (await s.execute(select(AssistantMessage.cancel_requested)
                                          .where(AssistantMessage.id == self.reply.message_id))).scalar()
        except Exception as exc:  # noqa: BLE001 - a missed flush only delays a resume elsewhere
            log.warning("assistant.flush_failed error=%s", type(exc).__name__)
            return
        if wanted and not self.finishing and self.reply.task is not None:
            self.reply.task.cancel()  # a cancel asked through another process

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self.task)


async def run_reply(deps: AssistantDeps, reply: LiveReply, inputs: context.Inputs, usage_id: str) -> None:
    """The reply's task: plan the context, stream, store, announce the end."""
    provider = writer_for(deps.text)
    flusher = _Flusher(deps.db, reply, deps.settings.assistant_flush_seconds)
    status, finish, usage = "complete", None, None
    final: StreamEvent | None = None
    prompt_tokens = 0
    try:
        while True:
            try:
                planned = await build_context(deps, provider, reply, inputs)
                prompt_tokens = planned.prompt_tokens
                async for chunk in stream_chunks(provider, planned.messages,
                                                 temperature=deps.settings.assistant_temperature,
                                                 max_tokens=deps.settings.assistant_reply_tokens):
                    if chunk.delta:
                        await reply.add(chunk.delta)
                        flusher.maybe()
                    finish = chunk.finish_reason or finish
                    usage = chunk.usage or usage
                break
            except ProviderError as exc:
                if reply.length == 0 and deps.fallback is not None and provider is not deps.fallback:
                    log.warning("assistant.fallback provider=%s error=%s", provider.name, exc.code)
                    provider = deps.fallback
                    continue
                status, final = "failed", provider_failure(exc)
                break
    except asyncio.CancelledError:
        status, finish = "incomplete", "canceled"
    except Exception:
        log.exception("assistant.reply_failed message_id=%s", reply.message_id)
        status, final = "failed", StreamEvent("error", {"code": "internal_error", "message": "the reply failed"})
    flusher.finishing = True
    storing = asyncio.ensure_future(_store(deps, reply, provider, flusher, status, finish, usage, final,
                                           prompt_tokens, usage_id))
    while not storing.done():
        with contextlib.suppress(asyncio.CancelledError):  # a second cancel: the reply is being stored already
            await asyncio.shield(storing)
    storing.result()


async def _store(deps: AssistantDeps, reply: LiveReply, provider: TextProvider, flusher: _Flusher, status: str,
                 finish: str | None, usage: dict[str, int] | None, final: StreamEvent | None,
                 prompt_tokens: int, usage_id: str) -> None:
    """Store the reply whole (or as far as it got), then announce its end to everyone following it."""
    await flusher.stop()
    count = counter_for(model_of(provider))
    text = reply.text
    prompt = int((usage or {}).get("prompt_tokens", prompt_tokens))
    completion = int((usage or {}).get("completion_tokens", count(text) if text else 0))
    error = final.data if final is not None else None
    async with deps.db.session() as s:
        await s.execute(update(AssistantMessage).where(AssistantMessage.id == reply.message_id).values(
            content=text, status=status, finish_reason=finish, prompt_tokens=prompt, completion_tokens=completion,
            provider=provider.name, model=model_of(provider)[:100], finished_at=utc_now(),
            error_code=error["code"] if error else None, error_message=error["message"] if error else None))
        await s.execute(update(AssistantSession).where(AssistantSession.id == reply.session_id)
                        .values(updated_at=utc_now()))
        await limits.set_tokens(s, usage_id, provider=provider.name, model=model_of(provider),
                                prompt_tokens=prompt, completion_tokens=completion)
    if final is None:
        final = done_event(reply.message_id, status, finish, prompt, completion)
    else:
        final.data["messageId"] = reply.message_id
    await reply.finish(final)
    deps.streams.discard(reply.message_id)


def done_event(message_id: str, status: str, finish: str | None, prompt: int, completion: int) -> StreamEvent:
    return StreamEvent("done", {"messageId": message_id, "status": status, "finishReason": finish,
                                "usage": {"promptTokens": prompt, "completionTokens": completion}})


def request_messages(system: str, user: str) -> list[ChatMessage]:
    return [ChatMessage("system", system), ChatMessage("user", user)]
