"""``video.generate`` through the real queue: the offline pan-and-zoom provider, and Seedance on the fake Ark
server (stored MP4 + poster, a failed task, cancel reaching the upstream task)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageStat
from sqlalchemy import select

from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.jobs.models import JobEvent
from genloom.media.models import Asset
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.fakes.ark import ArkFake, sample_mp4
from tests.fakes.base import FakeServer
from tests.pipelines.conftest import ARK_KEY, drawing_png, store_input
from tests.providers.jobrun import create, get, wait_for_request

KIND = "video.generate"


def _path(url: str) -> str:
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


def ark_overrides(server: FakeServer, **kw: Any) -> dict[str, Any]:
    return {"ark_base_url": f"{server.url}/api/v3", "ark_api_key": ARK_KEY, "video_provider": "ark", **kw}


def decode(data: bytes) -> tuple[str, int, int, int]:
    """codec, width, height, frame count of an MP4."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.width, stream.height, frames


async def _assets(runtime: Runtime, job_id: str) -> list[Asset]:
    async with runtime.db.read_session() as session:
        return list((await session.execute(select(Asset).where(Asset.job_id == job_id).order_by(Asset.kind))).scalars())


async def _phases(runtime: Runtime, job_id: str) -> list[Any]:
    async with runtime.db.read_session() as session:
        rows = (await session.execute(select(JobEvent.type, JobEvent.data).where(JobEvent.job_id == job_id)
                                      .order_by(JobEvent.id))).all()
    return [(r.type, r.data) for r in rows]


class TestLocal:
    async def test_prompt_only_renders_stores_and_serves(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        created = await client.post("/v1/jobs", json={"kind": KIND, "input": {
            "prompt": "一只橘猫在窗台上", "duration_s": 2, "ratio": "9:16", "seed": 5}})
        assert created.status_code == 202, created.text
        await drain(runtime)
        job = (await client.get(f"/v1/jobs/{created.json()['id']}")).json()
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert (result["provider"], result["model"]) == ("local", "kenburns-v1")
        video = result["video"]
        assert set(video) == {"asset_id", "url", "thumbnail_url", "mime", "size", "sha256", "duration_ms", "width",
                              "height"}
        assert (video["mime"], video["width"], video["height"], video["duration_ms"]) == ("video/mp4", 480, 864, 2000)

        served = await client.get(_path(video["url"]))
        assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
        assert len(served.content) == video["size"] and hashlib.sha256(served.content).hexdigest() == video["sha256"]
        assert decode(served.content) == ("h264", 480, 864, 24)
        poster = await client.get(_path(video["thumbnail_url"]))
        with Image.open(io.BytesIO(poster.content)) as im:
            assert im.size == (178, 320)  # longest side 320, the clip's shape (480 x 864)

        rows = await _assets(runtime, job["id"])
        assert [(a.kind, a.mime) for a in rows] == [("thumb", "image/jpeg"), ("video", "video/mp4")]
        thumb, stored = rows
        assert thumb.derived_from == stored.id and stored.id == video["asset_id"]
        assert stored.duration_ms == 2000 and (stored.width, stored.height) == (480, 864)

        events = await _phases(runtime, job["id"])
        assert [d["phase"] for t, d in events if t == "phase"] == ["preparing", "generating", "storing"]
        progress = [d["progress"] for t, d in events if t in ("phase", "progress")]
        assert progress == sorted(progress)
        assert any(t == "progress" and 10 < d["progress"] < 85 for t, d in events)  # the provider's own steps

    async def test_same_input_same_video(self, runtime: Runtime) -> None:
        first = await create(runtime, KIND, prompt="a lighthouse", duration_s=1, seed=9)
        second = await create(runtime, KIND, prompt="a lighthouse", duration_s=1, seed=9)
        other = await create(runtime, KIND, prompt="a lighthouse", duration_s=1, seed=10)
        await drain(runtime)
        digests = [(await get(runtime, job_id))["result"]["video"]["sha256"] for job_id in (first, second, other)]
        assert digests[0] == digests[1] != digests[2]

    async def test_pans_over_the_owners_picture(self, runtime: Runtime) -> None:
        picture = drawing_png(400, 300)
        asset_id = await store_input(runtime, picture)
        job_id = await create(runtime, KIND, prompt="the drawing comes alive", image_asset_id=asset_id, duration_s=1)
        await drain(runtime)
        job = await get(runtime, job_id)
        assert job["status"] == "succeeded", job["error"]
        video = job["result"]["video"]
        assert (video["width"], video["height"]) == (640, 480)  # no ratio: the picture's 4:3 shape
        async with runtime.db.read_session() as session:
            row = (await session.execute(select(Asset).where(Asset.id == video["asset_id"]))).scalar_one()
        data = await runtime.blobs.get(row.key)
        with av.open(io.BytesIO(data), "r") as container:
            frames = [frame.to_image() for frame in container.decode(video=0)]
        # the camera starts or ends on the whole drawing: that frame is the picture itself (up to H.264 losses)
        with Image.open(io.BytesIO(picture)) as source:
            expected = source.convert("RGB").resize((640, 480))
        distances = [ImageStat.Stat(ImageChops.difference(f.convert("RGB"), expected)).mean for f in (frames[0],
                                                                                                         frames[-1])]
        assert min(sum(d) / 3 for d in distances) < 6
        assert max(sum(d) / 3 for d in distances) > 10  # …and the other end is zoomed in

    async def test_another_owners_picture_is_not_found(self, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, drawing_png(), owner_id="someone-else")
        job_id = await create(runtime, KIND, prompt="x", image_asset_id=asset_id)
        missing = await create(runtime, KIND, prompt="x", image_asset_id="0" * 32)
        await drain(runtime)
        for jid in (job_id, missing):
            job = await get(runtime, jid)
            assert job["status"] == "failed" and job["attempts"] == 1
            assert job["error"]["code"] == "asset_not_found"
        assert await runtime.blobs.list("jobs/") == []

    async def test_a_video_is_not_a_picture(self, runtime: Runtime) -> None:
        asset_id = await store_input(runtime, sample_mp4())
        job_id = await create(runtime, KIND, prompt="x", image_asset_id=asset_id)
        await drain(runtime)
        job = await get(runtime, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "invalid_media"
        assert "not an image" in job["error"]["message"]

    @pytest.mark.parametrize(("job_input", "field"), [
        ({}, "input.prompt"),
        ({"prompt": "  "}, "input.prompt"),
        ({"prompt": "x", "duration_s": 0}, "input.duration_s"),
        ({"prompt": "x", "duration_s": 11}, "input.duration_s"),
        ({"prompt": "x", "ratio": "2:1"}, "input.ratio"),
        ({"prompt": "x", "resolution": "4k"}, "input.resolution"),
        ({"prompt": "x", "seed": -1}, "input.seed"),
        ({"prompt": "x", "fps": 60}, "input.fps"),
    ])
    async def test_invalid_input_rejected_before_queueing(self, client: httpx.AsyncClient, job_input: dict[str, Any],
                                                          field: str) -> None:
        response = await client.post("/v1/jobs", json={"kind": KIND, "input": job_input})
        assert response.status_code == 400 and response.json()["field"] == field
        assert (await client.get("/v1/jobs")).json()["items"] == []


class TestSeedance:
    async def test_image_to_video_stores_mp4_and_poster(self, open_runtime: Callable[..., Any],
                                                        ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        async with open_runtime(**ark_overrides(server)) as rt:
            asset_id = await store_input(rt, drawing_png(320, 240))
            job_id = await create(rt, KIND, prompt="小猫跳起来", image_asset_id=asset_id, duration_s=5, seed=7)
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "succeeded", job["error"]
            result = job["result"]
            assert (result["provider"], result["model"]) == ("ark", "doubao-seedance-1-0-pro-250528")
            video = result["video"]
            assert (video["mime"], video["width"], video["height"]) == ("video/mp4", 64, 48)  # read from the file
            assert video["duration_ms"] == 1000  # the fake's clip: 8 frames at 8 fps
            assert "tos" not in str(result)  # the provider's signed URL never reaches clients
            rows = await _assets(rt, job_id)
            assert [a.kind for a in rows] == ["thumb", "video"]
            assert await rt.blobs.get(rows[1].key) == sample_mp4()
            with Image.open(io.BytesIO(await rt.blobs.get(rows[0].key))) as poster:
                assert poster.size == (64, 48)  # thumbnails never upscale
            [sent] = state.seen("POST", "/contents/generations/tasks")
            content = sent.json()["content"]
            assert content[0]["text"] == "小猫跳起来 --resolution 720p --ratio adaptive --duration 5 --seed 7"
            assert content[1]["role"] == "first_frame"
            assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")

    async def test_failed_task_fails_the_job_with_the_reason(self, open_runtime: Callable[..., Any],
                                                             ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        async with open_runtime(**ark_overrides(server)) as rt:
            state.fail_next_task()
            job_id = await create(rt, KIND, prompt="x")
            await drain(rt)
            job = await get(rt, job_id)
            assert job["status"] == "failed" and job["attempts"] == 1
            assert job["error"]["code"] == "content_policy" and job["error"]["retryable"] is False
            assert "OutputVideoSensitiveContentDetected" in job["error"]["message"]
            assert "sensitive content" in job["error"]["message"]
            assert await rt.blobs.list("jobs/") == []

    async def test_cancel_reaches_the_ark_task(self, open_runtime: Callable[..., Any],
                                               ark: tuple[ArkFake, FakeServer]) -> None:
        state, server = ark
        state.queued_seconds = 120
        async with open_runtime(**ark_overrides(server)) as rt:
            job_id = await create(rt, KIND, prompt="x")
            worker = asyncio.create_task(drain(rt))
            await wait_for_request(state, "GET", "/contents/generations/tasks/")
            async with rt.db.session() as s:
                await service.cancel_job(s, rt, ANONYMOUS, job_id)
            await asyncio.wait_for(worker, 30)
            job = await get(rt, job_id)
            assert job["status"] == "canceled"
            [task] = state.tasks.values()
            assert state.seen("DELETE", f"/contents/generations/tasks/{task.id}")
            assert state.status_of(task) == "cancelled"
            assert await rt.blobs.list("jobs/") == []
