"""Cross-process wake-ups: PostgreSQL LISTEN/NOTIFY (surviving a dropped connection), Redis pub/sub, and
SQLite's data_version. Each test builds a second Signals/Database pair, as another process would have.

Every wait below has a generous timeout and the consumers' polling is not involved (``wait_events_since``
only returns early on a real wake-up), so a wake-up that never comes fails the test instead of passing late.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from genloom.core.db import Database
from genloom.core.settings import Settings
from genloom.jobs.signals import Signals
from genloom.runtime import Runtime
from tests.conftest import make_settings
from tests.events.conftest import new_job

WAIT = 15.0


async def _until(predicate, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    async def _loop() -> None:
        while not predicate():  # noqa: ASYNC110 - polling a plain attribute of another object
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_loop(), timeout)


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[Signals]:
    """The wake-ups another process on the same database would receive."""
    db = Database(settings)
    signals = Signals(settings, db)
    await signals.start()
    try:
        yield signals
    finally:
        await signals.close()
        await db.dispose()


async def _woken(signals: Signals, seen: int) -> bool:
    return await signals.wait_events_since(seen, WAIT) != seen


async def test_enqueue_wakes_another_process(runtime: Runtime, other: Signals) -> None:
    """PostgreSQL: NOTIFY at commit; SQLite: the data_version watcher."""
    if other.db.dialect == "postgresql":
        await _until(lambda: other.listening)
    else:
        await asyncio.sleep(0.1)  # let the watcher read its first data_version
    await other.wait_jobs(0.01)  # consume the wake-up every listener gives itself on connect
    seen = other.events_seq
    await new_job(runtime)
    assert await _woken(other, seen)
    await asyncio.wait_for(other._jobs.wait(), WAIT)  # workers there are woken too


async def test_listen_connection_is_reestablished(runtime: Runtime, other: Signals) -> None:
    if other.db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    await _until(lambda: other.listening)
    async with runtime.db.engine.begin() as conn:
        killed = (await conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'genloom-listen' AND datname = current_database()"
        ))).scalar()
    assert killed and killed >= 1  # this runtime's listener and the other one's
    await _until(lambda: not other.listening)
    await _until(lambda: other.listening)
    seen = other.events_seq
    await new_job(runtime)
    assert await _woken(other, seen)


async def test_redis_pubsub_wakes_another_process(database_url: str, redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    prefix = f"genloom-test-{uuid.uuid4().hex[:8]}"
    settings = make_settings(database_url=database_url, data_dir=tmp_path, use_redis=True, redis_url=redis_url,
                             redis_prefix=prefix)
    pairs = []
    for _ in range(2):
        db = Database(settings)
        signals = Signals(settings, db)
        await signals.start()
        pairs.append((db, signals))
    (_, a), (_, b) = pairs
    try:
        await _until(lambda: a.subscribed and b.subscribed)
        if a.db.dialect == "postgresql":  # their LISTEN connections wake them once when they come up
            await _until(lambda: a.listening and b.listening)
        await b.wait_jobs(0.01)
        seen_b, seen_a = b.events_seq, a.events_seq
        a.wake_local(jobs=True, events=True)
        assert await _woken(b, seen_b)
        await asyncio.wait_for(b._jobs.wait(), WAIT)
        # The publisher skips its own message: exactly one local wake-up, none echoed back.
        assert a.events_seq == seen_a + 1
        # And the channel names carry the configured prefix.
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        try:
            channels = {c.decode() for c in await client.pubsub_channels(f"{prefix}:*")}
        finally:
            await client.aclose()
        assert channels == {f"{prefix}:genloom_jobs", f"{prefix}:genloom_events"}
    finally:
        for db, signals in pairs:
            await signals.close()
            await db.dispose()


async def test_sqlite_watcher_ignores_a_quiet_database(runtime: Runtime, other: Signals) -> None:
    if other.db.dialect != "sqlite":
        pytest.skip("SQLite only")
    await asyncio.sleep(0.1)
    seen = other.events_seq
    await asyncio.sleep(0.2)  # ~20 watcher rounds with no commit anywhere
    assert other.events_seq == seen
    await new_job(runtime)
    assert await _woken(other, seen)
