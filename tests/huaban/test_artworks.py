"""Artworks, gallery and growth over HTTP: editing the transcript (a parent's correction wins over ASR), deleting
an artwork removes its objects, cursor paging, profiles, reports with a trend, the origin allow-list, and the
native event stream for the owner's client id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from genloom.app import create_app
from genloom.artworks.models import Artwork
from genloom.assembly import build_runtime, start_runtime
from genloom.core.db import utc_now
from genloom.growth.models import Analysis
from genloom.runtime import Runtime
from tests.conftest import drain, settings_for
from tests.huaban.conftest import CLIENT_A, FAST_VIDEO, Huaban, drawing_png


@pytest.fixture
async def app_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_for(database_url, tmp_path, **FAST_VIDEO,
                                         huaban_allowed_origins="https://huaban.example"))
    await start_runtime(runtime, migrate=False)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def http(app_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=app_runtime, workers=0)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c


async def test_transcript_correction_and_delete(http: httpx.AsyncClient, app_runtime: Runtime) -> None:
    app = Huaban(http, CLIENT_A)
    art = await app.artwork(transcript=None)  # a recording, no transcript: the offline ASR cannot hear it
    job = (await app.call("POST", "/generation/jobs", json={"artworkId": art["id"]})).json()["jobId"]
    await drain(app_runtime)
    failed = (await app.call("GET", f"/generation/jobs/{job}")).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "asr_unavailable"
    fixed = await app.call("PATCH", f"/artworks/{art['id']}", json={"transcript": "小狗在草地上追蝴蝶"})
    assert fixed.status_code == 200 and fixed.json()["transcriptSource"] == "parent"
    busy = await app.call("POST", f"/generation/jobs/{job}/retry")
    assert busy.status_code == 202
    await drain(app_runtime)
    await drain(app_runtime)
    done = (await app.call("GET", f"/generation/jobs/{job}")).json()
    assert done["status"] == "completed" and done["transcript"] == "小狗在草地上追蝴蝶"
    not_failed = await app.call("POST", f"/generation/jobs/{job}/retry")
    assert not_failed.status_code == 409 and not_failed.json()["error"]["code"] == "job_not_failed"

    prefix = f"clients/{CLIENT_A}/artworks/{art['id']}/"
    assert len(await app_runtime.blobs.list(prefix)) >= 5  # drawing, thumb, recording, clip, poster
    gone = await app.call("DELETE", f"/artworks/{art['id']}")
    assert gone.status_code == 204
    from genloom.media.service import wait_for_cleanups

    await wait_for_cleanups()
    assert await app_runtime.blobs.list(prefix) == []
    assert (await app.call("GET", f"/artworks/{art['id']}")).status_code == 404
    assert (await app.call("GET", f"/generation/jobs/{job}")).status_code == 404
    assert (await app.call("GET", "/images")).json() == {"items": []}


async def test_gallery_pages_and_report_trend(http: httpx.AsyncClient, app_runtime: Runtime) -> None:
    app = Huaban(http, CLIENT_A)
    made = [await app.artwork(with_audio=False, title=f"画 {i}") for i in range(3)]
    first = (await app.call("GET", "/gallery", params={"limit": 2})).json()
    assert [i["id"] for i in first["items"]] == [made[2]["id"], made[1]["id"]] and first["nextCursor"]
    second = (await app.call("GET", "/gallery", params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert [i["id"] for i in second["items"]] == [made[0]["id"]] and second["nextCursor"] is None
    bad = await app.call("GET", "/gallery", params={"cursor": "%%%"})
    assert bad.status_code == 400

    for art in made:
        assert (await app.call("POST", f"/ai/analyses/{art['id']}")).status_code == 202
    await drain(app_runtime)
    # the oldest artwork was drawn last week, with a lower colour score
    async with app_runtime.db.write() as conn:
        await conn.execute(update(Artwork).where(Artwork.id == made[0]["id"])
                           .values(created_at=utc_now() - timedelta(days=7)))
        await conn.execute(update(Analysis).where(Analysis.artwork_id == made[0]["id"])
                           .values(abilities={"color": 10, "composition": 10, "imagination": 10, "detail": 10,
                                              "lineControl": 10, "storytelling": 10}))
    report = (await app.call("GET", "/grow/report", params={"period": "week", "range": 2})).json()
    assert report["artworkCount"] == 3 and len(report["series"]) == 2
    assert [s["artworkCount"] for s in report["series"]] == [1, 2]
    assert report["trend"]["color"] is not None and report["trend"]["color"] > 0
    assert report["highlights"] and report["topTags"]
    month = (await app.call("GET", "/grow/report", params={"period": "month"})).json()
    assert month["period"] == "month" and len(month["series"]) == 1


async def test_profile(http: httpx.AsyncClient) -> None:
    app = Huaban(http, CLIENT_A)
    empty = (await app.call("GET", "/grow/profile")).json()
    assert empty["nickname"] is None and empty["createdAt"] is None
    avatar = await app.upload("original", "image/png", drawing_png())
    saved = await app.call("POST", "/grow/profile", json={"nickname": "豆豆", "age": 6, "avatarAssetId": avatar["id"]})
    assert saved.status_code == 200 and saved.json()["avatarUrl"]
    again = (await app.call("POST", "/grow/profile", json={"description": "喜欢画小动物"})).json()
    assert (again["nickname"], again["age"], again["description"]) == ("豆豆", 6, "喜欢画小动物")


async def test_origin_allow_list(http: httpx.AsyncClient) -> None:
    app = Huaban(http, CLIENT_A)
    assert (await app.call("GET", "/gallery", headers={"Origin": "https://huaban.example"})).status_code == 200
    assert (await app.call("GET", "/gallery")).status_code == 200  # the native app sends no Origin
    refused = await app.call("GET", "/gallery", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
    by_referer = await app.call("GET", "/gallery", headers={"Referer": "https://evil.example/page"})
    assert by_referer.status_code == 403


async def test_owner_follows_the_job_over_sse(http: httpx.AsyncClient, app_runtime: Runtime) -> None:
    app = Huaban(http, CLIENT_A)
    art = await app.artwork(with_audio=False)
    job = (await app.call("POST", "/generation/jobs", json={"artworkId": art["id"]})).json()["jobId"]
    await drain(app_runtime)
    async with http.stream("GET", f"/v1/jobs/{job}/events", headers={"X-Client-Id": CLIENT_A}) as stream:
        assert stream.status_code == 200
        text = ""
        async for chunk in stream.aiter_text():
            text += chunk
            if "succeeded" in text:
                break
    assert "transcribing" in text and "compositing" in text and "succeeded" in text
