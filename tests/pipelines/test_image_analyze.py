"""``image.analyze`` through the real queue: the offline measuring provider, Qwen-VL on the fake DashScope server
and OpenAI vision on the fake OpenAI server; the analysis is also stored as a JSON asset."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from genloom.media.models import Asset
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.fakes.base import FakeServer
from tests.fakes.openai import OpenAIFake
from tests.pipelines.conftest import OPENAI_KEY, drawing_png, store_input, wav_bytes
from tests.providers.conftest import DASHSCOPE_KEY, Fake
from tests.providers.jobrun import create, get

KIND = "image.analyze"
ABILITIES = {"color", "composition", "detail", "creativity"}


def _path(url: str) -> str:
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


async def _analyze(runtime: Runtime, data: bytes, **kw: Any) -> dict[str, Any]:
    asset_id = await store_input(runtime, data)
    job_id = await create(runtime, KIND, image_asset_id=asset_id, **kw)
    await drain(runtime)
    return await get(runtime, job_id)


class TestLocal:
    async def test_scores_comments_and_stored_analysis(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, drawing_png())
        created = await client.post("/v1/jobs", json={"kind": KIND, "input": {"image_asset_id": asset_id}})
        assert created.status_code == 202, created.text
        await drain(runtime)
        job = (await client.get(f"/v1/jobs/{created.json()['id']}")).json()
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert (result["provider"], result["model"]) == ("local", "drawing-measures-v1")
        analysis = result["analysis"]
        assert set(analysis["scores"]) == ABILITIES and all(0 <= v <= 100 for v in analysis["scores"].values())
        assert set(analysis["comments"]["zh"]) == set(analysis["comments"]["en"]) == ABILITIES
        assert analysis["summary"]["zh"] and analysis["summary"]["en"]
        assert analysis["image"] == {"width": 400, "height": 300}
        assert analysis["palette"][0]["hex"] == "#ffffff"  # the paper
        assert sum(p["share"] for p in analysis["palette"]) == pytest.approx(1.0, abs=0.01)
        assert set(analysis["measures"]) == {"colour_variety", "saturation", "brightness", "contrast", "edge_density",
                                             "symmetry", "coverage", "balance"}

        stored = result["analysis_asset"]
        served = await client.get(_path(stored["url"]))
        assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
        document = json.loads(served.content)
        assert document == {"image_asset_id": asset_id, "provider": "local", "model": "drawing-measures-v1",
                            "analysis": analysis}
        listed = (await client.get("/v1/assets", params={"job_id": job["id"]})).json()["items"]
        assert [(a["kind"], a["derived_from"], a["mime"]) for a in listed] == [("analysis", asset_id,
                                                                                  "application/json")]

    async def test_a_rich_drawing_scores_higher_than_a_blank_page(self, runtime: Runtime) -> None:
        rich = (await _analyze(runtime, drawing_png()))["result"]["analysis"]
        blank = (await _analyze(runtime, drawing_png(rich=False)))["result"]["analysis"]
        for ability in ABILITIES:
            assert rich["scores"][ability] > blank["scores"][ability], ability
        assert rich["overall"] >= 60 and blank["overall"] <= 30
        assert blank["measures"]["coverage"] == 0 and blank["measures"]["colour_variety"] == 0
        assert blank["comments"]["en"]["color"] != rich["comments"]["en"]["color"]

    async def test_same_picture_same_analysis(self, runtime: Runtime) -> None:
        first = await _analyze(runtime, drawing_png(500, 500))
        second = await _analyze(runtime, drawing_png(500, 500))
        assert first["result"]["analysis"] == second["result"]["analysis"]
        assert first["result"]["analysis_asset"]["asset_id"] != second["result"]["analysis_asset"]["asset_id"]

    async def test_not_a_picture_and_not_found(self, runtime: Runtime) -> None:
        audio = await _analyze(runtime, wav_bytes())
        assert audio["status"] == "failed" and audio["error"]["code"] == "invalid_media"
        other = await store_input(runtime, drawing_png(), owner_id="someone-else")
        job_id = await create(runtime, KIND, image_asset_id=other)
        await drain(runtime)
        job = await get(runtime, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "asset_not_found"
        async with runtime.db.read_session() as session:
            count = (await session.execute(select(func.count()).select_from(Asset).where(Asset.kind == "analysis")))
            assert count.scalar_one() == 0

    @pytest.mark.parametrize(("job_input", "field"), [
        ({}, "input.image_asset_id"),
        ({"image_asset_id": ""}, "input.image_asset_id"),
        ({"image_asset_id": "a", "instruction": "x" * 4001}, "input.instruction"),
        ({"image_asset_id": "a", "schema": {}}, "input.schema"),
    ])
    async def test_invalid_input_rejected_before_queueing(self, client: httpx.AsyncClient, job_input: dict[str, Any],
                                                          field: str) -> None:
        response = await client.post("/v1/jobs", json={"kind": KIND, "input": job_input})
        assert response.status_code == 400 and response.json()["field"] == field


class TestRemote:
    async def test_qwen_vl(self, open_runtime: Callable[..., Any], dashscope: Fake) -> None:
        overrides = {"vision_provider": "dashscope", "dashscope_api_key": DASHSCOPE_KEY,
                     "dashscope_base_url": dashscope.url}
        async with open_runtime(**overrides) as rt:
            picture = drawing_png()
            job = await _analyze(rt, picture)
            assert job["status"] == "succeeded", job["error"]
            result = job["result"]
            assert result["provider"] == "dashscope" and result["model"] == "qwen-vl-plus"
            assert result["analysis"]["scores"] == {"color": 8, "composition": 7}
            [sent] = dashscope.state.seen("POST", "/chat/completions")
            content = sent.json()["messages"][0]["content"]
            assert content[0]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(picture).decode()
            assert "child's drawing" in content[1]["text"] and '"creativity"' in content[1]["text"]
            stored = await rt.blobs.list("jobs/")
            assert len(stored) == 1 and stored[0].key.endswith(".json")

    async def test_openai_vision_with_an_instruction(self, open_runtime: Callable[..., Any],
                                                     openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        overrides = {"vision_provider": "openai", "openai_api_key": OPENAI_KEY, "openai_base_url": f"{server.url}/v1"}
        async with open_runtime(**overrides) as rt:
            job = await _analyze(rt, drawing_png(), instruction="What animal is this?")
            assert job["status"] == "succeeded", job["error"]
            result = job["result"]
            assert result["provider"] == "openai" and result["model"] == "gpt-4o-mini"
            assert result["analysis"]["instruction_echo"].startswith("What animal is this?")
            [sent] = state.seen("POST", "/chat/completions")
            assert sent.json()["response_format"] == {"type": "json_object"}
            assert "shaped like" not in sent.json()["messages"][0]["content"][1]["text"]  # no schema hint

    async def test_a_provider_failure_stores_nothing(self, open_runtime: Callable[..., Any],
                                                     openai: tuple[OpenAIFake, FakeServer]) -> None:
        state, server = openai
        overrides = {"vision_provider": "openai", "openai_api_key": OPENAI_KEY, "openai_base_url": f"{server.url}/v1"}
        async with open_runtime(**overrides) as rt:
            state.fail(400, code="invalid_image", message="The image could not be processed.", path="/chat")
            job = await _analyze(rt, drawing_png())
            assert job["status"] == "failed" and job["attempts"] == 1
            assert "could not be processed" in job["error"]["message"]
            assert await rt.blobs.list("jobs/") == []
