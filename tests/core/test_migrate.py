"""Schema revision against head, migration under an advisory lock, the refusal line when behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from genloom.core.migrate import (
    SchemaNotAtHead,
    downgrade,
    ensure_schema,
    head_revisions,
    schema_status,
    upgrade,
)
from genloom.core.settings import normalise_database_url
from tests.conftest import PG_URL
from tests.core.conftest import admin_sql


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(empty_database_url)
    yield eng
    await eng.dispose()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: c.dialect.get_table_names(c)))


async def test_an_empty_database_is_behind_and_the_refusal_says_what_to_run(engine: AsyncEngine) -> None:
    status = await schema_status(engine)
    assert status.current == frozenset() and not status.at_head
    with pytest.raises(SchemaNotAtHead) as err:
        await ensure_schema(engine, auto_migrate=False)
    heads = "+".join(sorted(head_revisions()))
    assert str(err.value) == f"database is at revision none, this genloom needs {heads}: run genloom migrate"
    assert "jobs" not in await _tables(engine)  # refusing never half-migrates


async def test_auto_migrate_brings_the_schema_to_head_once(engine: AsyncEngine) -> None:
    status = await ensure_schema(engine, auto_migrate=True)
    assert status.at_head and status.current == head_revisions()
    assert {"jobs", "job_events", "alembic_version"} <= await _tables(engine)
    again = await ensure_schema(engine, auto_migrate=False)  # at head: nothing to refuse
    assert again.at_head


async def test_a_schema_one_step_behind_names_both_revisions(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await downgrade(engine, "0001_core")
    status = await schema_status(engine)
    assert status.current == {"0001_core"} and not status.at_head
    with pytest.raises(SchemaNotAtHead, match=r"^database is at revision 0001_core, this genloom needs \S+: run genloom migrate$"):
        await ensure_schema(engine, auto_migrate=False)


async def test_a_database_from_a_newer_genloom_is_never_migrated(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999_from_the_future')"))
    with pytest.raises(SchemaNotAtHead, match="newer than this genloom .*: upgrade genloom$"):
        await ensure_schema(engine, auto_migrate=True)


@pytest.mark.skipif(not PG_URL, reason="GENLOOM_TEST_DATABASE_URL not set")
async def test_replicas_starting_together_migrate_once_and_the_rest_wait(tmp_path: Path) -> None:
    """Six engines (six connections, as six replicas would have) upgrade one empty PostgreSQL database at once:
    without the advisory lock two of them run CREATE TABLE jobs concurrently and one fails."""
    name = f"genloom_race_{uuid.uuid4().hex[:10]}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    url = make_url(normalise_database_url(PG_URL)).set(database=name)
    engines = [create_async_engine(url) for _ in range(6)]
    try:
        await asyncio.gather(*(ensure_schema(e, auto_migrate=True) for e in engines))
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert frozenset(versions) == head_revisions() and len(versions) == len(head_revisions())
    finally:
        for e in engines:
            await e.dispose()
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
