"""HuaBan test helpers: a runtime on the test database with the local store or an S3 bucket on moto, a
client that speaks HuaBan over real HTTP, and small real media files (a drawing, a voice recording)."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from genloom.assembly import build_runtime, start_runtime
from genloom.runtime import Runtime
from tests.conftest import S3_TEST_CREDENTIALS, make_settings

CLIENT_A = "clientAAAA_0001"
CLIENT_B = "clientBBBB_0002"
#: fast clips: one second at 480p keeps the offline video encoder quick on a shared machine
FAST_VIDEO = {"huaban_video_duration_s": 1, "huaban_video_resolution": "480p"}


def drawing_png(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    """A child's drawing: a sun, a house, a few strokes of colour."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20 + seed, 20, 80 + seed, 80), fill=(250, 200, 30), outline=(230, 120, 0), width=3)
    draw.rectangle((140, 110, 260, 210), fill=(200, 60, 60), outline=(40, 40, 40), width=4)
    draw.polygon([(130, 110), (200, 50), (270, 110)], fill=(60, 120, 200))
    draw.line((0, 215, 320, 215), fill=(40, 160, 60), width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def voice_wav(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                          for i in range(int(8000 * seconds)))
        w.writeframes(frames)
    return out.getvalue()


def s3_overrides(moto_server: str) -> dict[str, Any]:
    import uuid

    import boto3

    bucket = f"huaban-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    s3.close()
    return {"storage": "s3", "s3_endpoint": moto_server, "s3_bucket": bucket, "s3_force_path_style": True,
            **S3_TEST_CREDENTIALS}


@pytest.fixture
def huaban_runtime(database_url: str, tmp_path: Path) -> Callable[..., Any]:
    """``async with huaban_runtime(**settings) as rt``: a runtime on the test database."""

    @asynccontextmanager
    async def opened(**overrides: Any) -> AsyncIterator[Runtime]:
        base = {"database_url": database_url, "data_dir": tmp_path, "media_dir": tmp_path / "media",
                "retry_base_seconds": 0.0, "poll_interval_seconds": 0.05, "event_poll_seconds": 0.05, **FAST_VIDEO}
        rt = build_runtime(make_settings(**{**base, **overrides}))
        await start_runtime(rt, migrate=False)
        try:
            yield rt
        finally:
            await rt.close()

    return opened


class Huaban:
    """HuaBan's frontend calls, as one client id."""

    def __init__(self, http: httpx.AsyncClient, client_id: str) -> None:
        self.http = http
        self.client_id = client_id

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Client-Id": self.client_id}

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def put_file(self, signed: dict[str, Any], data: bytes) -> httpx.Response:
        """PUT the bytes to the presigned URL exactly as a browser would (the URL and headers it was given)."""
        url = signed["url"]
        if url.startswith("/"):  # the local store's signed URL, served by genloom itself
            return await self.http.put(url, content=data, headers=signed["headers"])
        async with httpx.AsyncClient() as raw:
            return await raw.put(url, content=data, headers=signed["headers"])

    async def upload(self, kind: str, mime: str, data: bytes, artwork_id: str | None = None) -> dict[str, Any]:
        """presign → PUT → commit; returns the committed media asset."""
        body: dict[str, Any] = {"type": kind, "mime": mime, "size": len(data)}
        if artwork_id:
            body["artworkId"] = artwork_id
        signed = await self.call("POST", "/upload/presign", json=body)
        assert signed.status_code == 200, signed.text
        put = await self.put_file(signed.json(), data)
        assert put.status_code in (200, 201), put.text
        committed = await self.call("POST", "/media/commit", json={
            "key": signed.json()["key"], "mime": mime, "size": len(data), "etag": put.headers.get("etag")})
        assert committed.status_code == 201, committed.text
        return dict(committed.json())

    async def artwork(self, *, transcript: str | None = "小猫坐着彩虹飞到了月亮上",
                      with_audio: bool = True, title: str = "会飞的小猫") -> dict[str, Any]:
        cover = await self.upload("original", "image/png", drawing_png())
        body: dict[str, Any] = {"title": title, "coverAssetId": cover["id"], "transcript": transcript}
        if with_audio:
            audio = await self.upload("audio", "audio/wav", voice_wav(), artwork_id=cover["artworkId"])
            body["audioAssetId"] = audio["id"]
        created = await self.call("POST", "/artworks", json=body)
        assert created.status_code == 201, created.text
        return dict(created.json())
