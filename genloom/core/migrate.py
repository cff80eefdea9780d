"""Run Alembic migrations programmatically (``genloom migrate`` and the server's start-up).

Start-up (``genloom serve`` / ``genloom worker``) calls :func:`ensure_schema`: with auto-migrate on it brings the
schema to head under a PostgreSQL advisory lock, so many replicas starting together migrate once and the rest
wait, then find nothing to do; with auto-migrate off a schema behind the code refuses to start with one line
that says what to run. ``/health`` asks :func:`schema_status` whether the schema is at head.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

#: the key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number; this one spells "genloom")
MIGRATION_LOCK_KEY = 0x67656E6C6F6F6D


def alembic_config(url: str = "") -> Config:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> frozenset[str]:
    """Every branch head this genloom's migrations define (read once per process: the files do not change)."""
    return frozenset(_script().get_heads())


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


def describe(revisions: frozenset[str]) -> str:
    """``0003_cinemind+0013_growth`` for a set of revisions, ``none`` for an empty (never migrated) database."""
    return "+".join(sorted(revisions)) or "none"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: frozenset[str]
    heads: frozenset[str]

    @property
    def at_head(self) -> bool:
        return self.current == self.heads

    @property
    def ahead(self) -> bool:
        """The database was migrated by a newer genloom (it names revisions this code does not know)."""
        return not self.current <= known_revisions()

    @property
    def message(self) -> str:
        """The one line a refusal to start (or an unhealthy ``/health``) shows."""
        if self.at_head:
            return f"database is at revision {describe(self.current)}"
        if self.ahead:
            return (f"database is at revision {describe(self.current)}, newer than this genloom "
                    f"({describe(self.heads)}): upgrade genloom")
        return (f"database is at revision {describe(self.current)}, this genloom needs {describe(self.heads)}: "
                "run genloom migrate")


class SchemaNotAtHead(RuntimeError):
    """The database's schema is not the one this code needs, and start-up was told not to migrate it."""

    def __init__(self, status: SchemaStatus) -> None:
        super().__init__(status.message)
        self.status = status


def _current(sync_conn: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(sync_conn).get_current_heads())


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    """Which revision the database is at, against the heads this code needs (one small query)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    return SchemaStatus(current=current, heads=head_revisions())


def _upgrade(sync_conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


async def _take_migration_lock(conn: AsyncConnection) -> None:
    """On PostgreSQL, wait for the advisory lock; it is held until this transaction ends (commit or rollback)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (every branch head by default).

    One transaction holds the advisory lock and the migration, so a second process waits on the lock and then
    sees the schema already at head. SQLite serialises writers itself (a migration is one write transaction).
    """
    async with engine.begin() as conn:
        await _take_migration_lock(conn)
        await conn.run_sync(_upgrade, revision)


async def ensure_schema(engine: AsyncEngine, *, auto_migrate: bool) -> SchemaStatus:
    """Start-up's check: migrate to head when allowed, else raise :class:`SchemaNotAtHead` if behind."""
    status = await schema_status(engine)
    if status.at_head:
        return status
    if not auto_migrate or status.ahead:
        raise SchemaNotAtHead(status)
    await upgrade(engine)
    return await schema_status(engine)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    def _go(sync_conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await _take_migration_lock(conn)
        await conn.run_sync(_go)
