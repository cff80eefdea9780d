"""Fault tests: a PostgreSQL server of their own (stopped, restarted, killed at will, never the shared one)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from genloom.core.db import Database
from genloom.core.migrate import upgrade
from tests.conftest import make_settings
from tests.pgserver import PgServer, postgres_bindir


@pytest.fixture(scope="session")
def own_pg() -> Iterator[PgServer]:
    """A throwaway PostgreSQL on a free port for the whole run (skipped where its binaries are missing)."""
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


async def _fresh_database(server: PgServer) -> str:
    name = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    db = Database(make_settings(database_url=url))
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()
    return url


@pytest.fixture
def own_pg_url(own_pg: PgServer) -> str:
    """A freshly migrated database on the fault tests' own server (up again, whatever the last test did)."""
    if not own_pg.running():
        own_pg.start()
    return asyncio.run(_fresh_database(own_pg))

