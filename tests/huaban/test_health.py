"""GET /healthz: the orchestrator's liveness answer stays {"status": "ok"} without a client id; the HuaBan app
(X-Client-Id, or ?checks=true) gets {"ok", "checks"} and a 503 naming the dependency that is down."""

from __future__ import annotations

from pathlib import Path

import httpx

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.runtime import Runtime
from tests.conftest import S3_TEST_CREDENTIALS, settings_for
from tests.huaban.conftest import CLIENT_A


async def test_liveness_and_checks(client: httpx.AsyncClient) -> None:
    live = await client.get("/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    for response in (await client.get("/healthz", headers={"X-Client-Id": CLIENT_A}),
                     await client.get("/healthz", params={"checks": "true"})):
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "ok": True,
                                   "checks": {"database": "ok", "storage": "ok", "queue": "ok",
                                              "schema": "ok"}}


async def test_storage_down_is_named(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, storage="s3", s3_endpoint="http://127.0.0.1:9",
                            s3_bucket="gone", s3_force_path_style=True, provider_connect_timeout=0.2,
                            **S3_TEST_CREDENTIALS)
    runtime: Runtime = build_runtime(settings)
    await start_runtime(runtime, migrate=False)
    app = create_app(runtime=runtime, workers=0)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                down = await http.get("/healthz", headers={"X-Client-Id": CLIENT_A})
                assert down.status_code == 503
                assert down.json() == {"status": "degraded", "ok": False,
                                       "checks": {"database": "ok", "storage": "down", "queue": "ok",
                                                  "schema": "ok"}}
                assert (await http.get("/healthz")).status_code == 200  # liveness is not affected
    finally:
        await runtime.close()
