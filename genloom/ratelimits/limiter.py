"""Fixed-window rate limits: ``hit(rule, subject)`` counts one request and says whether it is allowed.

Counters live where every API replica sees them: a ``rate_counters`` row per (rule, subject, window), bumped
with one upsert that returns the new count (SQLite and PostgreSQL alike), or a Redis key bumped with INCR and
given a TTL when ``USE_REDIS`` is on. A window is ``period`` seconds aligned to the epoch, so replicas agree on
its boundaries without talking to each other; ``Retry-After`` is the time left in the current window.

Rules are written as ``name=limit/period`` (``presign=60/min,generation=10/min,default=300/min``); periods are
``s``, ``min``, ``h``, ``day`` or a number of seconds.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite

from genloom.core.db import Database, retry_busy, utc_now
from genloom.ratelimits.models import RateCounter

PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "m": 60, "h": 3600, "hour": 3600,
           "day": 86400, "d": 86400}
_RULE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(\d+)\s*/\s*([A-Za-z]+|\d+)\s*$")
counters_t = cast(Table, RateCounter.__table__)


@dataclass(frozen=True, slots=True)
class Rule:
    limit: int
    period_s: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.period_s}s"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: seconds until the window resets (what ``Retry-After`` says when refused)
    reset_s: int


def parse_rules(spec: str) -> dict[str, Rule]:
    """``"presign=60/min, default=300/min"`` → ``{"presign": Rule(60, 60), "default": Rule(300, 60)}``."""
    rules: dict[str, Rule] = {}
    for part in (p for p in spec.split(",") if p.strip()):
        match = _RULE.match(part)
        if match is None:
            raise ValueError(f"rate limit {part.strip()!r} is not of the form name=limit/period (e.g. presign=60/min)")
        name, limit, period = match.group(1), int(match.group(2)), match.group(3)
        seconds = int(period) if period.isdigit() else PERIODS.get(period.lower())
        if not seconds or seconds <= 0:
            raise ValueError(f"rate limit {part.strip()!r}: unknown period {period!r} (s, min, h, day or seconds)")
        rules[name] = Rule(limit=limit, period_s=seconds)
    return rules


def window(rule: Rule, now: float) -> tuple[int, int]:
    """(start of the current window, seconds left in it), both whole seconds."""
    start = int(now) - int(now) % rule.period_s
    return start, max(1, math.ceil(start + rule.period_s - now))


class RateLimiter(Protocol):
    async def hit(self, name: str, subject: str, rule: Rule) -> Decision:
        """Count one request of ``subject`` (a client id, a user id…) under ``name``; say if it may proceed."""
        ...

    async def purge_expired(self) -> int:
        """Delete dead counters (a no-op where the backend expires them itself); returns how many."""
        ...

    async def aclose(self) -> None: ...


def _decision(rule: Rule, count: int, reset_s: int) -> Decision:
    return Decision(allowed=count <= rule.limit, limit=rule.limit, remaining=max(0, rule.limit - count),
                    reset_s=reset_s)


class DatabaseRateLimiter:
    """Counters as rows: one upsert ... RETURNING per request."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _upsert(self, key: str, expires_at: datetime) -> Any:
        values = {"key": key, "count": 1, "expires_at": expires_at}
        if self.db.dialect == "postgresql":
            pg = postgresql.insert(counters_t).values(**values)
            stmt: Any = pg.on_conflict_do_update(index_elements=[counters_t.c.key],
                                                 set_={"count": counters_t.c.count + 1})
        else:
            lite = sqlite.insert(counters_t).values(**values)
            stmt = lite.on_conflict_do_update(index_elements=[counters_t.c.key],
                                              set_={"count": counters_t.c.count + 1})
        return stmt.returning(counters_t.c.count)

    async def hit(self, name: str, subject: str, rule: Rule) -> Decision:
        now = time.time()
        start, reset_s = window(rule, now)
        key = f"{name}:{subject}:{start}"[:255]
        expires_at = datetime.fromtimestamp(start + rule.period_s, UTC)

        async def bump() -> int:
            async with self.db.write() as conn:
                return int((await conn.execute(self._upsert(key, expires_at))).scalar_one())

        return _decision(rule, await retry_busy(bump), reset_s)

    async def purge_expired(self) -> int:
        async with self.db.write() as conn:
            result = await conn.execute(delete(counters_t).where(counters_t.c.expires_at < utc_now()))
        return int(result.rowcount or 0)

    async def aclose(self) -> None:
        return None


class RedisRateLimiter:
    """Counters as Redis keys: INCR, and EXPIRE on the first hit of a window (pipelined, one round trip)."""

    def __init__(self, url: str, *, prefix: str = "genloom") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.prefix = prefix

    async def hit(self, name: str, subject: str, rule: Rule) -> Decision:
        now = time.time()
        start, reset_s = window(rule, now)
        key = f"{self.prefix}:rl:{name}:{subject}:{start}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, rule.period_s + 1, nx=True)
            count, _ = await pipe.execute()
        return _decision(rule, int(count), reset_s)

    async def purge_expired(self) -> int:
        return 0  # Redis expires its keys itself

    async def aclose(self) -> None:
        await self.redis.aclose()  # type: ignore[attr-defined]  # redis>=5; the stubs predate it


def build_limiter(db: Database, *, use_redis: bool, redis_url: str, redis_prefix: str = "genloom") -> RateLimiter:
    """Redis when ``USE_REDIS`` is on, else the database."""
    if use_redis:
        return RedisRateLimiter(redis_url, prefix=redis_prefix)
    return DatabaseRateLimiter(db)


