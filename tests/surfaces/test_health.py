"""GET /health and /healthz against real databases, a real Redis, and a PostgreSQL that is not there."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request

from genloom.app import create_app
from genloom.core.settings import Settings
from genloom.runtime import build_runtime, start_runtime
from genloom.surfaces import health
from tests.conftest import make_settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        async for client in _client_for(configured):
            response = await client.get("/health")
            assert response.status_code == 200
            assert response.json()["redis"] == "healthy"

    async def test_redis_unreachable_is_reported_not_fatal(self, settings: Settings) -> None:
        configured = settings.model_copy(
            update={"use_redis": True, "redis_url": f"redis://127.0.0.1:{_closed_port()}/0"}
        )
        async for client in _client_for(configured):
            response = await client.get("/health")
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "redis": "unhealthy", "database": "healthy"}

    async def test_unreachable_postgres_is_503_degraded(self, tmp_path: Path) -> None:
        settings = make_settings(
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/genloom",
            data_dir=tmp_path,
            db_pool_timeout=1.0,
        )
        async for client in _client_for(settings, start=False):
            response = await client.get("/health")
            assert response.status_code == 503
            assert response.json() == {"status": "degraded", "redis": "disabled", "database": "unhealthy"}
            # liveness does not depend on the database
            live = await client.get("/healthz")
            assert live.status_code == 200
            assert live.json() == {"status": "ok"}

    async def test_contributors_add_fields(self, client: httpx.AsyncClient) -> None:
        async def contribute(request: Request, report: health.HealthReport, body: dict[str, Any]) -> None:
            body["code"] = 0 if report.ok else 503
            body["path"] = request.url.path

        health.add_contributor(contribute)
        health.add_contributor(contribute)  # registering twice keeps one
        try:
            assert sum(1 for c in health._contributors if c is contribute) == 1
            body = (await client.get("/health")).json()
            assert body["status"] == "ok"
            assert body["code"] == 0
            assert body["path"] == "/health"
        finally:
            health._contributors.remove(contribute)

    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health", "/healthz"])
async def test_health_routes_are_documented(client: httpx.AsyncClient, path: str) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "Health" in spec["paths"][path]["get"]["tags"]
