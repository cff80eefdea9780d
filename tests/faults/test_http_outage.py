"""Database outages answer 503 with Retry-After in each surface's own error shape, never 500: with the
database stopped, and all through a restart (its own PostgreSQL server, never the shared one)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.runtime import Runtime
from tests.conftest import settings_for
from tests.pgserver import PgServer

MISSING = "01a23b00-0000-7000-8000-000000000000"
#: one database-backed request per surface, with where its error code sits in that surface's body
PROBES: list[tuple[str, str, str, dict[str, object] | None]] = [
    ("native", "GET", f"/v1/jobs/{MISSING}", None),
    ("native", "POST", "/v1/jobs", {"kind": "noop", "input": {}}),
    ("native", "GET", "/v1/queue", None),
    ("studio", "GET", f"/api/status/{MISSING}", None),
    ("cinemind", "GET", f"/tasks/{MISSING}", None),
    ("huaban", "GET", f"/generation/jobs/{MISSING}", None),
]


def _code(surface: str, body: dict[str, object]) -> object:
    if surface == "native":
        return body["code"]
    if surface == "huaban":
        error = body["error"]
        assert isinstance(error, dict)
        return error["code"]
    if surface == "cinemind":
        data = body["data"]
        assert isinstance(data, dict)
        return data["error"]
    return body["code"]


@pytest.fixture
async def app_client(own_pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    rt = build_runtime(settings_for(own_pg_url, tmp_path))
    await start_runtime(rt, migrate=False)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client, rt
    finally:
        await rt.close()


async def _send(client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None) -> httpx.Response:
    return await client.request(method, path, json=body, headers={"X-Client-Id": "outage-test-client"})


@pytest.mark.slow
async def test_stopped_database_answers_503_in_each_surface_shape(
    app_client: tuple[httpx.AsyncClient, Runtime], own_pg: PgServer,
) -> None:
    client, rt = app_client
    assert (await _send(client, "POST", "/v1/jobs", {"kind": "noop", "input": {}})).status_code == 202
    await asyncio.to_thread(own_pg.stop)
    try:
        for surface, method, path, body in PROBES:
            response = await _send(client, method, path, body)
            assert response.status_code == 503, (surface, path, response.status_code, response.text)
            assert int(response.headers["retry-after"]) >= 1, (surface, path)
            assert _code(surface, response.json()) in ("queue_unavailable", 50301), (surface, response.json())
            if surface == "native":
                assert response.headers["content-type"] == "application/problem+json"
        assert rt.db.reachability.reachable is False
    finally:
        await asyncio.to_thread(own_pg.start)
    # and straight back to normal once it is up again
    deadline = time.monotonic() + 60  # backoff tops out at 5 s; a loaded machine needs more
    while (await _send(client, "POST", "/v1/jobs", {"kind": "noop", "input": {}})).status_code != 202:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    while not rt.hub.live:  # the event hub came back on its own
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    database = (await _send(client, "GET", "/v1/queue", None)).json()["database"]
    assert database["reachable"] is True and database["outages"] >= 1, database
    assert database["last_error"] and database["last_error_at"] <= database["since"], database


@pytest.mark.slow
async def test_no_500_through_a_restart(app_client: tuple[httpx.AsyncClient, Runtime], own_pg: PgServer) -> None:
    client, _rt = app_client
    statuses: Counter[int] = Counter()
    restarting = asyncio.create_task(asyncio.to_thread(own_pg.restart))
    started = time.monotonic()
    while not restarting.done() or time.monotonic() - started < 3.0:
        for surface, method, path, body in PROBES:
            response = await _send(client, method, path, body)
            statuses[response.status_code] += 1
            assert response.status_code != 500, (surface, path, response.text)
            if response.status_code == 503:
                assert "retry-after" in response.headers
        await asyncio.sleep(0.01)
    await restarting
    assert set(statuses) <= {200, 202, 404, 503}, statuses
    assert statuses[503] > 0, statuses  # the restart was seen, and answered as an outage
