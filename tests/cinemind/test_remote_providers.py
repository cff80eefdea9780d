"""The generation flow with remote providers against the fake DashScope server on a real socket: Qwen writes the
English prompt, Wan makes the images; a failed provider task fails the task and leaves no rows and no files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.cinemind.models import GraphResult
from genloom.jobs.models import JobEvent
from genloom.runtime import Runtime
from tests.conftest import drain, make_settings
from tests.fakes.base import FakeServer
from tests.fakes.dashscope import DashScopeFake
from tests.fakes.dashscope import create_app as dashscope_app


@pytest.fixture
def fake() -> Iterator[tuple[DashScopeFake, str]]:
    state = DashScopeFake(api_key="test-key", pending_seconds=0.05, running_seconds=0.05)
    with FakeServer(dashscope_app(state)) as server:
        yield state, server.url


@pytest.fixture
async def remote(database_url: str, tmp_path: Path, fake: tuple[DashScopeFake, str]) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    from genloom.providers import dashscope

    _, url = fake
    settings = make_settings(database_url=database_url, data_dir=tmp_path, media_dir=tmp_path / "media",
                             dashscope_base_url=url, dashscope_api_key="test-key", image_model="wan2.2-t2i-flash",
                             image_polling_interval=0.05, provider_max_retries=0, download_allow_hosts=["127.0.0.1"],
                             retry_base_seconds=0.0, job_max_attempts=1)
    rt = build_runtime(settings)
    # the factory chooses providers from settings; these tests pin DashScope for text and image explicitly
    rt.providers.text = dashscope.build(settings, "text", rt.guards)
    rt.providers.image = dashscope.build(settings, "image", rt.guards)
    await start_runtime(rt, migrate=False)
    app = create_app(runtime=rt, workers=0)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
                yield c, rt
    finally:
        await rt.close()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_qwen_prompt_and_wan_images(remote: tuple[httpx.AsyncClient, Runtime], fake: tuple[DashScopeFake, str]) -> None:
    client, rt = remote
    state, _ = fake
    r = await client.post("/tasks/generate", json={"主体": "竹林", "风格": "水墨", "分辨率": "768x768", "数量": 2,
                                                    "模型": "dashscope/wan2.2-t2i-flash"})
    assert r.status_code == 202, r.text
    await drain(rt)
    task = (await client.get(f"/tasks/{r.json()['data']['taskId']}")).json()["data"]
    assert task["status"] == "completed", task
    result = task["result"]
    assert result["promptEn"] == f"refined: {result['promptZh']}"  # the fake Qwen's answer
    assert len(result["images"]) == 2
    chat = state.seen("POST", "/compatible-mode/v1/chat/completions")[0].json()
    assert chat["messages"][1]["content"] == result["promptZh"] and "style: 水墨画" in chat["messages"][0]["content"]
    wan = state.seen("POST", "/api/v1/services/aigc/text2image/image-synthesis")[0].json()
    assert wan["input"]["prompt"] == result["promptEn"] and wan["parameters"]["n"] == 2
    meta = (await client.get(f"/media/file-meta/{result['graphIds'][0]}")).json()["data"]
    assert (meta["width"], meta["height"]) == (768, 768) and meta["params"]["model"] == "wan2.2-t2i-flash"
    # the provider's own steps (Wan's task states) show as sub-phases of "generate"
    async with rt.db.read_session() as session:
        phases = set((await session.execute(select(JobEvent.data["phase"].as_string()).where(
            JobEvent.job_id == task["taskId"], JobEvent.type == "phase"))).scalars())
    assert {"prompt", "generate", "store", "record"} <= phases, phases
    assert any(phase.startswith("generate: ") for phase in phases), phases


async def test_failed_provider_task_leaves_nothing(remote: tuple[httpx.AsyncClient, Runtime],
                                                   fake: tuple[DashScopeFake, str]) -> None:
    client, rt = remote
    state, _ = fake
    state.fail_next_task()
    r = await client.post("/tasks/generate", json={"主体": "竹林", "分辨率": "768x768"})
    await drain(rt)
    task: dict[str, Any] = (await client.get(f"/tasks/{r.json()['data']['taskId']}")).json()["data"]
    assert task["status"] == "failed" and task["result"] is None
    assert task["error"]["code"] and task["error"]["message"]
    async with rt.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(GraphResult))).scalar_one() == 0
    assert _files(rt.settings.media_root) == []
    assert (await client.get(f"/results/{r.json()['data']['graphIds'][0]}")).status_code == 404
