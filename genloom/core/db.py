"""Database engines, sessions and the declarative base.

SQLite and PostgreSQL are both first-class. SQLite needs care under concurrency (the server, embedded workers
and separate worker processes write one file): WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for
write transactions, because a deferred transaction that later upgrades to a write fails at once with
"database is locked" instead of waiting. Reads go through a second engine whose transactions stay deferred,
so WAL readers never queue behind writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from genloom.core.outage import Reachability, is_database_unavailable
from genloom.core.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite would otherwise drop the zone)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON column: JSONB on PostgreSQL, JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


class Database:
    """The engines and session factories for one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            path = _sqlite_path(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = self._sqlite_engine(immediate=True)
            self.reader = self._sqlite_engine(immediate=False)
        else:
            self.engine = create_async_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout,
                pool_pre_ping=settings.db_pool_pre_ping,
                pool_recycle=1800,
                connect_args={"server_settings": {"application_name": "genloom"}},
            )
            self.reader = self.engine
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.reader, expire_on_commit=False)
        #: what this process last knew of its database (``GET /v1/queue``, the workers table)
        self.reachability = Reachability()
        for engine in {self.engine, self.reader}:
            self._watch_reachability(engine)

    def _watch_reachability(self, engine: AsyncEngine) -> None:
        """Record every connection-level failure of any statement, and the first new connection after one."""

        @event.listens_for(engine.sync_engine, "handle_error")
        def _on_error(ctx: Any) -> None:
            if ctx.is_disconnect or is_database_unavailable(ctx.original_exception):
                self.reachability.failed(ctx.original_exception)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(_dbapi_conn: Any, _record: Any) -> None:
            self.reachability.recovered()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _sqlite_engine(self, *, immediate: bool) -> AsyncEngine:
        busy_ms = self.settings.db_busy_timeout_ms
        engine = create_async_engine(
            self.url,
            pool_size=max(2, self.settings.db_pool_size),
            max_overflow=self.settings.db_max_overflow,
            pool_timeout=self.settings.db_pool_timeout,
            connect_args={"timeout": busy_ms / 1000.0, "check_same_thread": False},
        ) if _sqlite_path(self.url) is not None else create_async_engine(self.url, poolclass=NullPool)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event own transaction start (pysqlite's implicit BEGIN is deferred).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write session: commits when the block ends, rolls back if it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one write transaction (the queue's hot path)."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.reader.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - health checks report, never raise
            return False


T = TypeVar("T")


def is_busy_error(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    return isinstance(orig, sqlite3.OperationalError | OperationalError) and (
        "database is locked" in text or "database is busy" in text
    ) or "database is locked" in text


async def retry_busy(fn: Callable[[], Awaitable[T]], *, attempts: int = 8) -> T:
    """Run ``fn`` again when SQLite reports SQLITE_BUSY past its busy timeout."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            return await fn()
        except OperationalError as exc:
            if attempt == attempts - 1 or not is_busy_error(exc):
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


def utc_now() -> datetime:
    return datetime.now(UTC)
