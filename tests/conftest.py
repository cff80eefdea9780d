"""Shared fixtures: real databases (SQLite always, PostgreSQL when GENLOOM_TEST_DATABASE_URL is set), a
runtime per test, an in-process HTTP client, and a burst-mode worker to drain the queue.

PostgreSQL: each pytest run creates its own database (so parallel runs never collide), migrates it once,
and truncates every table before each test. SQLite: migrated once into a template file, copied per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from genloom.assembly import build_runtime, start_runtime
from genloom.core.db import Database
from genloom.core.migrate import upgrade
from genloom.core.settings import Settings, normalise_database_url
from genloom.runtime import Runtime

PG_URL = os.environ.get("GENLOOM_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("GENLOOM_TEST_REDIS_URL", "")
DB_PARAMS = ["sqlite"] + (["postgres"] if PG_URL else [])


def make_settings(**overrides: Any) -> Settings:
    """Settings for a test: no .env files, nothing from the developer's machine but what is passed."""
    overrides.setdefault("env", "test")
    overrides.setdefault("workers", 0)
    overrides.setdefault("log_level", "WARNING")
    # health probes would spend fault plans and show up in the fakes' request logs; tests that need them opt in
    overrides.setdefault("provider_probes", False)
    # argon2id at its cheapest (1 pass, 8 KiB): the same hashing and verifying code, without the 0.1-0.5 s of CPU
    # per hash that the production cost spends on purpose (tests that register and log in hundreds of times)
    overrides.setdefault("password_hash_time_cost", 1)
    overrides.setdefault("password_hash_memory_kib", 8)
    overrides.setdefault("password_hash_parallelism", 1)
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


async def _migrate(url: str) -> None:
    db = Database(make_settings(database_url=url))
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("GENLOOM_TEST_DATABASE_URL not set")
    base = make_url(normalise_database_url(PG_URL))
    name = f"genloom_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_url = base.render_as_string(hide_password=False)

    async def _admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
            names = ", ".join(f'"{r.tablename}"' for r in rows)
            if names:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=DB_PARAMS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "genloom.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return url


def settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """The per-test settings: a tmp data folder, no retry delay, fast polling; ``overrides`` on top."""
    base: dict[str, Any] = {
        "database_url": database_url, "data_dir": tmp_path, "media_dir": tmp_path / "media",
        "retry_base_seconds": 0.0, "poll_interval_seconds": 0.05, "event_poll_seconds": 0.05,
    }
    return make_settings(**(base | overrides))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings)
    await start_runtime(rt, migrate=False)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the app in-process (lifespan run, no embedded workers)."""
    from genloom.app import create_app

    app = create_app(runtime=runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def drain(runtime: Runtime, *, concurrency: int = 4, timeout: float = 60.0) -> None:
    """Run a worker until no job is due (arq's "burst" mode)."""
    from genloom.jobs.worker import Worker

    worker = Worker(runtime, concurrency=concurrency, name="test")
    await asyncio.wait_for(worker.drain(), timeout)


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("GENLOOM_TEST_REDIS_URL not set")
    return REDIS_URL


# --- S3 (moto's server over real HTTP) -----------------------------------------------------------------------

S3_TEST_CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing", "s3_region": "us-east-1"}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """An S3-protocol server (moto) on a free local port, for the whole run; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(moto_server: str, tmp_path: Path) -> Settings:
    """Settings for an S3 store on moto, with a fresh private bucket per test (no database set up; combine with
    ``database_url`` through ``make_settings(database_url=..., **s3_settings.model_dump(include=...))`` if needed)."""
    import boto3

    bucket = f"genloom-test-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    s3.close()
    return make_settings(
        data_dir=tmp_path, media_dir=tmp_path / "media", storage="s3", s3_endpoint=moto_server, s3_bucket=bucket,
        s3_force_path_style=True, **S3_TEST_CREDENTIALS,
    )


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """``app`` on a real socket on a free local port; yields its base URL.

    uvicorn runs as a task in the test's own event loop (not a thread) because the runtime's database pools and
    listeners belong to that loop; the connections still cross a real socket."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        sock.close()


@pytest.fixture
def live_server(runtime: Runtime) -> Any:
    """Serve the app over real HTTP/WebSocket on a free local port: ``async with live_server(workers=0) as url``.
    Pass ``rt=`` to serve another runtime."""
    from genloom.app import create_app

    def _serve(*, workers: int = 0, rt: Runtime | None = None) -> contextlib.AbstractAsyncContextManager[str]:
        return serve_app(create_app(runtime=rt or runtime, workers=workers))

    return _serve
