"""ComfyUI jobs through the real queue (the fake ComfyUI on a real socket): stored media, progress and phases
as events, cancel reaching /interrupt, outages that put jobs back, and the start-up probe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from genloom.core.settings import Settings
from genloom.jobs.models import JobEvent
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.fakes.base import FakeServer
from tests.fakes.comfyui import ComfyFake
from tests.providers.comfy_graphs import submitted_graph
from tests.providers.remote import (
    fast_settings,
    finish,
    post_job,
    queue_overrides,
    read,
    wait_for,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, comfy: tuple[ComfyFake, FakeServer]) -> Settings:
    return fast_settings(**queue_overrides(database_url, tmp_path), image_provider="comfyui", image_model="sd15",
                         comfyui_url=comfy[1].url, provider_probes=True)


class TestThroughTheQueue:
    async def test_image_job_stores_media(self, client: httpx.AsyncClient, runtime: Runtime,
                                          comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, _ = comfy
        created = await post_job(client, {"prompt": "a lighthouse at dusk", "width": 128, "height": 96, "seed": 5})
        assert created.status_code == 202, created.text
        job = await finish(runtime, created)
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert result["provider"] == "comfyui" and result["model"] == "sd15" and result["seed"] == 5
        [image] = result["images"]
        assert (image["width"], image["height"], image["mime"]) == (128, 96, "image/png")
        stored = await runtime.blobs.list("")
        assert len(stored) == 2  # the original and its thumbnail
        assert all("127.0.0.1" not in json.dumps(result) for _ in [0])  # the provider's URL never reaches clients
        assert submitted_graph(state)["3"]["inputs"]["seed"] == 5

    async def test_studio_request_keeps_the_template_size_and_phases_name_the_node(
            self, client: httpx.AsyncClient, runtime: Runtime, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, _ = comfy
        created = await client.post("/api/generate", json={"prompt": "a kite", "workflow": "sd15", "seed": 3})
        assert created.status_code == 202, created.text
        job_id = created.json()["job_id"]
        await drain(runtime)
        job = await read(runtime, job_id)
        assert job["status"] == "succeeded", job
        graph = submitted_graph(state)
        # sd15's defaults: 512×512 and 20 steps (nothing forced to 1024×1024)
        assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"], graph["3"]["inputs"]["steps"]) == (
            512, 512, 20)
        assert (job["result"]["images"][0]["width"], job["result"]["images"][0]["height"]) == (512, 512)
        async with runtime.db.read_session() as session:
            phases = (await session.execute(select(JobEvent.data["phase"].as_string()).where(
                JobEvent.job_id == job_id, JobEvent.type == "phase").order_by(JobEvent.id))).scalars().all()
        assert {"generating: queued", "generating: KSampler", "generating: VAE Decode"} <= set(phases)

    async def test_execution_error_fails_the_job_with_the_reason(self, client: httpx.AsyncClient, runtime: Runtime,
                                                                 comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, _ = comfy
        state.fail_next_execution("KSampler", "ValueError", "sampler exploded")
        job = await finish(runtime, await post_job(client, {"prompt": "x", "width": 64, "height": 64}))
        assert job["status"] == "failed" and job["attempts"] == 1
        assert "sampler exploded" in job["error"]["message"]
        assert await runtime.blobs.list("") == []

    async def test_out_of_memory_is_retried_by_the_queue(self, client: httpx.AsyncClient, runtime: Runtime,
                                                         comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, _ = comfy
        state.fail_next_execution()
        job = await finish(runtime, await post_job(client, {"prompt": "x", "width": 64, "height": 64}))
        assert job["status"] == "succeeded" and job["attempts"] == 2

    async def test_cancel_reaches_comfyui(self, client: httpx.AsyncClient, runtime: Runtime,
                                          comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, _ = comfy
        state.step_seconds = 0.5  # 20 steps: long enough for the worker's cancel check to land mid-run
        created = await post_job(client, {"prompt": "x", "width": 64, "height": 64})
        job_id = created.json()["id"]
        worker = asyncio.create_task(drain(runtime))

        async def sampling() -> bool:
            return state.running is not None and state.current_node == "3"

        await wait_for(sampling)
        canceled = await client.post(f"/v1/jobs/{job_id}/cancel")
        assert canceled.status_code in (200, 202), canceled.text
        await worker
        job = await read(runtime, job_id)
        assert job["status"] == "canceled"
        assert len(state.seen("POST", "/interrupt")) == 1
        assert await runtime.blobs.list("") == []

    async def test_providers_route_names_the_workflow(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        async def probed() -> bool:
            return runtime.probes.reachable("comfyui") is not None

        await wait_for(probed)  # the start-up probe: GET /system_stats
        body = (await client.get("/v1/providers")).json()
        assert body["capabilities"]["image"] == {"provider": "comfyui", "model": "sd15", "circuit": "closed",
                                                 "reachable": True}
        assert body["health"]["comfyui"]["breaker"]["state"] == "closed"
        assert body["health"]["comfyui"]["probe"]["status"] == 200


