"""Per-user rate limits (provider calls and tokens per rolling minute) and usage, counted from the
``assistant_usage`` rows themselves, so every API replica enforces the same numbers without another store.

The check and the call are not one transaction: two requests racing at the edge may both pass. The limit is
there to stop runaway clients and spend, not to meter to the token.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.assistant.models import AssistantUsage
from genloom.core.db import utc_now
from genloom.core.errors import RateLimited
from genloom.core.ids import new_id
from genloom.core.settings import Settings

WINDOW = timedelta(minutes=1)


async def check(session: AsyncSession, settings: Settings, owner_id: str, *, now: datetime | None = None) -> None:
    """RateLimited (429, Retry-After) when the owner used up this minute's calls or tokens."""
    requests, tokens = settings.assistant_requests_per_minute, settings.assistant_tokens_per_minute
    if not requests and not tokens:
        return
    now = now or utc_now()
    since = now - WINDOW
    t = AssistantUsage
    row = (await session.execute(
        select(func.count(), func.coalesce(func.sum(t.prompt_tokens + t.completion_tokens), 0), func.min(t.created_at))
        .where(t.owner_id == owner_id, t.created_at > since)
    )).one()
    calls, spent, oldest = int(row[0]), int(row[1]), row[2]
    if (requests and calls >= requests) or (tokens and spent >= tokens):
        wait = (oldest + WINDOW - now).total_seconds() if oldest is not None else 60.0
        what = "requests" if requests and calls >= requests else "tokens"
        raise RateLimited(f"assistant {what} per minute used up; retry in {max(1, int(wait + 0.999))} s",
                          code="rate_limited", retry_after=max(1.0, wait))


def usage_values(owner_id: str, kind: str, *, provider: str = "", model: str = "", message_id: str | None = None,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> dict[str, Any]:
    """One ``assistant_usage`` row as column values (for a Core insert on the hot path)."""
    return {"id": new_id(), "owner_id": owner_id, "kind": kind, "message_id": message_id, "provider": provider,
            "model": model, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "created_at": utc_now()}


def record(session: AsyncSession, owner_id: str, kind: str, *, provider: str = "", model: str = "",
           message_id: str | None = None, prompt_tokens: int = 0, completion_tokens: int = 0) -> str:
    """Add one usage row (counted by :func:`check` at once); returns its id so the tokens can be set later."""
    values = usage_values(owner_id, kind, provider=provider, model=model, message_id=message_id,
                          prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    session.add(AssistantUsage(**values))
    return str(values["id"])


async def set_tokens(session: AsyncSession, usage_id: str, *, provider: str, model: str, prompt_tokens: int,
                     completion_tokens: int) -> None:
    await session.execute(update(AssistantUsage).where(AssistantUsage.id == usage_id).values(
        provider=provider[:32], model=model[:100], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))


async def totals(session: AsyncSession, owner_id: str, *, since: datetime | None = None) -> dict[str, Any]:
    """The owner's usage by kind: calls, prompt and completion tokens (all time, or since a moment)."""
    t = AssistantUsage
    stmt = (select(t.kind, func.count(), func.coalesce(func.sum(t.prompt_tokens), 0),
                   func.coalesce(func.sum(t.completion_tokens), 0))
            .where(t.owner_id == owner_id).group_by(t.kind).order_by(t.kind))
    if since is not None:
        stmt = stmt.where(t.created_at >= since)
    rows = (await session.execute(stmt)).all()
    by_kind = {str(kind): {"requests": int(n), "promptTokens": int(p), "completionTokens": int(c)}
               for kind, n, p, c in rows}
    return {
        "requests": sum(v["requests"] for v in by_kind.values()),
        "promptTokens": sum(v["promptTokens"] for v in by_kind.values()),
        "completionTokens": sum(v["completionTokens"] for v in by_kind.values()),
        "byKind": by_kind,
    }
