"""The seed frontend's main flow over real HTTP, with the offline providers, on the local store and on S3:
init → presign → PUT → commit → artwork → generation job through every phase → a real, downloadable MP4 →
analysis → growth report; plus the gallery, /images, live events and idempotent capture."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import av
import httpx
import pytest

from genloom.artworks.models import Upload
from genloom.jobs.tables import events_t
from tests.conftest import drain
from tests.huaban.conftest import CLIENT_A, Huaban, drawing_png, s3_overrides, voice_wav


async def _download(base: str, url: str) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=True) as raw:
        return await raw.get(url if url.startswith("http") else base + url)


@pytest.mark.parametrize("store", ["local", "s3"])
async def test_main_flow(store: str, huaban_runtime: Callable[..., Any], live_server: Any,
                         request: pytest.FixtureRequest) -> None:
    overrides = s3_overrides(request.getfixturevalue("moto_server")) if store == "s3" else {}
    async with huaban_runtime(**overrides) as rt, live_server(rt=rt) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            fresh = await http.post("/init", json={"device": {"platform": "web", "appVersion": "1.0.0"}})
            assert fresh.status_code == 200, fresh.text
            issued = fresh.json()["clientId"]
            assert len(issued) == 21 and fresh.json()["uploadPolicy"]["allowedMimes"]["original"]
            init = await http.post("/init", headers={"X-Client-Id": CLIENT_A}, json={"device": {"platform": "ios"}})
            assert init.status_code == 200 and init.json()["clientId"] == CLIENT_A
            assert init.json()["limits"]["rateLimits"]["generation"] == {"limit": 10, "periodS": 60}

            app = Huaban(http, CLIENT_A)
            cover = await app.upload("original", "image/png", drawing_png())
            assert cover["key"] == f"clients/{CLIENT_A}/artworks/{cover['artworkId']}/original/v1/file.png"
            assert (cover["width"], cover["height"]) == (320, 240)
            voice = await app.upload("audio", "audio/wav", voice_wav(0.5), artwork_id=cover["artworkId"])
            assert voice["key"].endswith("/audio/v1/file.wav") and voice["duration"] == 0.5
            signed = (await app.call("POST", "/upload/presign", json={"type": "original", "mime": "image/png",
                                                                     "size": 1234})).json()
            if store == "s3":  # the bucket checks type and length itself: both are in the signature
                assert "content-length%3Bcontent-type%3Bhost" in signed["url"]
            else:  # genloom's signed URL carries the declared size as its cap
                assert signed["url"].endswith("&max=1234")
            art = await app.artwork()
            assert art["status"] == "draft" and art["thumbUrl"] and art["audioUrl"]
            assert art["latestJob"] is None and art["analysis"]["status"] == "pending"

            started = await app.call("POST", "/generation/jobs", json={"artworkId": art["id"]},
                                     headers={"Idempotency-Key": "gen-1"})
            assert started.status_code == 202, started.text
            assert started.json()["status"] == "queued" and started.json()["phase"] == "queued"
            job_id = started.json()["jobId"]
            again = await app.call("POST", "/generation/jobs", json={"artworkId": art["id"]},
                                   headers={"Idempotency-Key": "gen-1"})
            assert again.status_code == 202 and again.json()["jobId"] == job_id

            await drain(rt)  # the generation
            await drain(rt)  # the analysis it queued on success
            job = (await app.call("GET", f"/generation/jobs/{job_id}")).json()
            assert (job["status"], job["phase"], job["progress"], job["error"]) == ("completed", "completed", 100, None)
            assert job["transcript"] == "小猫坐着彩虹飞到了月亮上" and job["story"]
            clip = await _download(base, job["videoUrl"])
            assert clip.status_code == 200
            with av.open(io.BytesIO(clip.content)) as container:
                assert container.streams.video and container.streams.video[0].codec_context.name == "h264"
            assert (await _download(base, job["posterUrl"])).status_code == 200

            # every phase was reported, in order, over the event log (what the SSE stream sends)
            async with rt.db.read_session() as session:
                rows = (await session.execute(events_t.select().where(events_t.c.job_id == job_id)
                                              .order_by(events_t.c.id))).all()
            phases = [r.data.get("phase") for r in rows if r.type == "phase"]
            assert phases == ["transcribing", "writing", "generating", "compositing"]

            detail = (await app.call("GET", f"/artworks/{art['id']}")).json()
            assert detail["status"] == "ready" and detail["videoUrl"] and detail["posterUrl"]
            assert detail["latestJob"]["status"] == "completed"
            assert detail["analysis"]["status"] == "completed"

            analysis = (await app.call("GET", f"/ai/analyses/{art['id']}")).json()
            assert analysis["status"] == "completed" and analysis["provider"] == "local"
            assert set(analysis["abilities"]) == {"color", "composition", "imagination", "detail", "lineControl",
                                                  "storytelling"}
            assert all(0 <= v <= 100 for v in analysis["abilities"].values())
            assert analysis["abilities"]["storytelling"] > 0 and analysis["tags"]

            report = (await app.call("GET", "/grow/report", params={"period": "week", "range": 1})).json()
            assert report["artworkCount"] == 1 and report["abilities"]["color"] == analysis["abilities"]["color"]
            assert len(report["series"]) == 1 and report["trend"]["color"] is None

            gallery = (await app.call("GET", "/gallery")).json()
            assert [i["id"] for i in gallery["items"]] == [art["id"]] and gallery["nextCursor"] is None
            images = (await app.call("GET", "/images", params={"limit": 10})).json()
            assert len(images["items"]) == 1 and images["items"][0]["key"].endswith("/video/v1/file.mp4")
            assert images["items"][0]["size"] == len(clip.content)

            captured = await app.call("POST", f"/generation/jobs/{job_id}/capture", json={})
            assert captured.status_code == 200 and captured.json()["status"] == "completed"
            assert await _count_uploads(rt, art["id"], "video") == 1  # capture of a finished job stores nothing new


async def _count_uploads(rt: Any, artwork_id: str, kind: str) -> int:
    from sqlalchemy import func, select

    async with rt.db.read_session() as session:
        return int((await session.execute(select(func.count()).select_from(Upload).where(
            Upload.artwork_id == artwork_id, Upload.type == kind))).scalar_one())
