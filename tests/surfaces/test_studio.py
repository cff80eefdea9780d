"""The Studio Core contract (seed 004), every status code, through real HTTP against `genloom serve`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.processes import genloom_env, serve

pytestmark = pytest.mark.slow


def wait_finished(base: str, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/api/status/{job_id}").json()
        seen.append(body["status"])
        if body["status"] in ("finished", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"not finished: {seen[-5:]}")


def test_studio_contract(database_url: str, tmp_path: Path) -> None:
    with serve(genloom_env(database_url, tmp_path)) as base:
        health = httpx.get(f"{base}/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["redis"] == "disabled"

        r = httpx.post(f"{base}/api/generate", json={"prompt": "a cyberpunk cat in neon city", "seed": 12345, "workflow": "sd15"})
        assert r.status_code == 202
        body = r.json()
        assert body["status"] == "queued" and set(body) >= {"job_id", "status"}

        early = httpx.get(f"{base}/api/status/{body['job_id']}").json()
        assert early["status"] in ("queued", "processing", "finished")
        assert set(early) == {"job_id", "status", "progress", "image_url", "error"}

        done = wait_finished(base, body["job_id"])
        assert done["status"] == "finished" and done["progress"] == 100 and done["error"] == ""
        image = httpx.get(done["image_url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content[:8] == b"\x89PNG\r\n\x1a\n"

        # same prompt and seed → same picture
        again = httpx.post(f"{base}/api/generate", json={"prompt": "a cyberpunk cat in neon city", "seed": 12345, "workflow": "sd15"})
        twin = wait_finished(base, again.json()["job_id"])
        assert httpx.get(twin["image_url"]).content == image.content

        for bad, field in (({"prompt": ""}, "prompt"), ({"prompt": "   "}, "prompt"), ({}, "prompt"),
                           ({"prompt": "x", "seed": "abc"}, "seed"), ({"prompt": "x", "seed": 1.5}, "seed"),
                           ({"prompt": "x", "workflow": "nope"}, "workflow")):
            r = httpx.post(f"{base}/api/generate", json=bad)
            assert r.status_code == 400, bad
            assert r.json()["error"] and r.json()["field"] == field
        r = httpx.post(f"{base}/api/generate", content=b"not json", headers={"content-type": "application/json"})
        assert r.status_code == 400

        missing = httpx.get(f"{base}/api/status/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and "error" in missing.json()


def test_studio_database_down_answers_503(tmp_path: Path) -> None:
    env = genloom_env("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", tmp_path, GENLOOM_DB_POOL_TIMEOUT="2")
    with serve(env, workers=0) as base:
        r = httpx.post(f"{base}/api/generate", json={"prompt": "a cat"}, timeout=20)
        assert r.status_code == 503 and r.json()["error"]
        h = httpx.get(f"{base}/health", timeout=20)
        assert h.status_code == 503 and h.json()["status"] == "degraded"
