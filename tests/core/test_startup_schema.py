"""Start-up on an empty database: ``genloom serve`` migrates it and takes jobs at once (SQLite and PostgreSQL);
with auto-migrate off it refuses in one line; ``/health`` and ``/healthz`` never call a schema behind the code
"ok"."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.core.migrate import SchemaNotAtHead, head_revisions, upgrade
from tests.conftest import make_settings
from tests.processes import free_port, genloom_cmd, genloom_env, serve

pytestmark = pytest.mark.slow


def test_serve_on_an_empty_database_migrates_it_and_creates_jobs(empty_database_url: str, tmp_path: Path) -> None:
    # a whole schema to create first: on a loaded machine that takes longer than an ordinary start
    with serve(genloom_env(empty_database_url, tmp_path), workers=1, timeout=120) as base:
        health = httpx.get(f"{base}/health", timeout=10)
        assert (health.status_code, health.json()["status"], health.json()["schema"]) == (200, "ok", "current")
        created = httpx.post(f"{base}/v1/jobs", json={"kind": "noop", "input": {}}, timeout=10)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while (job := httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10).json())["status"] != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        studio = httpx.post(f"{base}/api/generate", json={"prompt": "a cat"}, timeout=10)
        assert studio.status_code == 202, studio.text


def test_serve_refuses_a_schema_behind_in_one_line_when_auto_migrate_is_off(empty_database_url: str,
                                                                              tmp_path: Path) -> None:
    env = genloom_env(empty_database_url, tmp_path, GENLOOM_DB_AUTO_MIGRATE="false")
    for command in (("serve", "--port", str(free_port())), ("worker",)):
        done = subprocess.run(genloom_cmd(*command), env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=180)
        heads = "+".join(sorted(head_revisions()))
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            f"genloom: database is at revision none, this genloom needs {heads}: run genloom migrate")
        assert "Traceback" not in done.stderr


async def test_health_and_healthz_report_a_schema_behind_as_unhealthy(empty_database_url: str,
                                                                      tmp_path: Path) -> None:
    settings = make_settings(database_url=empty_database_url, data_dir=tmp_path, media_dir=tmp_path / "media",
                             db_auto_migrate=False)
    runtime = build_runtime(settings)
    with pytest.raises(SchemaNotAtHead):
        await start_runtime(runtime)
    await start_runtime(runtime, migrate=False)  # a process that started anyway (say, a replica before migrate)
    app = create_app(runtime=runtime, workers=0)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                health = await http.get("/health")
                body = health.json()
                assert health.status_code == 503
                assert (body["status"], body["database"], body["schema"]) == ("degraded", "healthy", "behind")
                assert body["detail"].endswith(": run genloom migrate")
                assert body["code"] == 50301 and body["message"] == body["detail"]  # cineMind's fields agree
                checked = await http.get("/healthz", params={"checks": "true"})
                assert checked.status_code == 503 and checked.json()["checks"]["schema"] == "behind"
                assert (await http.get("/healthz")).status_code == 200  # liveness: a restart would not help
                await upgrade(runtime.db.engine)  # `genloom migrate`, run meanwhile
                health = await http.get("/health")
                assert health.status_code == 200 and health.json()["schema"] == "current"
                assert "detail" not in health.json()
    finally:
        await runtime.close()
