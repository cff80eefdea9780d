"""GET /health and /healthz against real databases, a real Redis, and a PostgreSQL that is not there."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine.url import make_url

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from genloom.system import health
from tests.conftest import make_settings


class TcpProxy:
    """A TCP forwarder on a fixed local port that can be cut (closing every open connection) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await asyncio.sleep(0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.writers -= {writer, up_writer}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _client_for(settings: Settings, *, start: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    rt = build_runtime(settings)
    if start:
        await start_runtime(rt, migrate=False)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client
    finally:
        await rt.close()


class TestHealth:
    async def test_ok_with_redis_disabled(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["redis"] == "disabled"
        assert body["database"] == "healthy"

    async def test_redis_healthy(self, settings: Settings, redis_url: str) -> None:
        configured = settings.model_copy(update={"use_redis": True, "redis_url": redis_url})
        async with _client_for(configured) as client:
            response = await client.get("/health")
            assert response.status_code == 200
            assert response.json()["redis"] == "healthy"

    async def test_redis_unreachable_is_reported_not_fatal(self, settings: Settings) -> None:
        configured = settings.model_copy(
            update={"use_redis": True, "redis_url": f"redis://127.0.0.1:{_closed_port()}/0"}
        )
        async with _client_for(configured) as client:
            response = await client.get("/health")
            assert response.status_code == 200
            body = response.json()
            assert (body["status"], body["redis"], body["database"]) == ("ok", "unhealthy", "healthy")

    async def test_postgres_going_away_is_503_degraded_then_recovers(self, pg_url: str, tmp_path: Path) -> None:
        # The app reaches PostgreSQL through a TCP proxy we can cut, as a network partition would.
        target = make_url(pg_url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        settings = make_settings(
            database_url=target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            data_dir=tmp_path,
            db_pool_timeout=1.0,
        )
        try:
            async with _client_for(settings) as client:
                assert (await client.get("/health")).status_code == 200
                await proxy.stop()
                response = await client.get("/health")
                assert response.status_code == 503
                body = response.json()
                assert (body["status"], body["redis"], body["database"]) == ("degraded", "disabled", "unhealthy")
                # liveness does not depend on the database
                live = await client.get("/healthz")
                assert (live.status_code, live.json()) == (200, {"status": "ok"})
                await proxy.start()
                # the pool may hand out one more dead connection (and then discard it): a few probes at most
                for _ in range(5):
                    recovered = await client.get("/health")
                    if recovered.status_code == 200:
                        break
                assert recovered.status_code == 200
                assert recovered.json()["database"] == "healthy"
        finally:
            await proxy.stop()

    async def test_unreachable_postgres_is_unhealthy(self, tmp_path: Path) -> None:
        # Nothing listens on the port at all (the app could not even start against it; the check itself copes).
        settings = make_settings(
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/genloom",
            data_dir=tmp_path,
        )
        rt = build_runtime(settings)
        try:
            report = await health.health_report(rt)
            assert report.database is False and report.ok is False and report.redis == "disabled"
        finally:
            await rt.close()

    async def test_surfaces_add_fields(self, client: httpx.AsyncClient) -> None:
        async def contribute(runtime: Runtime, report: health.HealthReport, body: dict[str, Any]) -> None:
            body["extra"] = 0 if report.ok else 503
            body["dialect"] = runtime.db.dialect

        fields = client._transport.app.state.health_fields  # type: ignore[attr-defined]
        fields.append(contribute)
        try:
            body = (await client.get("/health")).json()
            assert body["status"] == "ok"
            assert body["extra"] == 0
            assert body["dialect"] in ("sqlite", "postgresql")
            assert body["code"] == 0  # cineMind's fields are there too
        finally:
            fields.remove(contribute)

    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health", "/healthz"])
async def test_health_routes_are_documented(client: httpx.AsyncClient, path: str) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "Health" in spec["paths"][path]["get"]["tags"]
