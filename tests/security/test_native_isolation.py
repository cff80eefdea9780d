"""Owner isolation on the native streams (SSE /v1/events, /v1/jobs/{id}/events, WS /v1/ws) and asset deletion,
in the auth modes that make callers distinct and with identities sent in open mode."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from genloom.core.settings import AuthMode
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.identity.conftest import bearer, create_user, login


async def _callers(client: httpx.AsyncClient, runtime: Runtime, mode: str, who: str) -> tuple[dict[str, str], dict[str, str]]:
    runtime.settings.auth_mode_native = AuthMode(mode)
    runtime.settings.auth_mode_studio = AuthMode(mode)
    runtime.settings.heartbeat_seconds = 0.2
    if who == "client":
        return {"X-Client-Id": "device-aaaa-1"}, {"X-Client-Id": "device-bbbb-2"}
    await create_user(runtime, "alice")
    await create_user(runtime, "bob")
    return bearer(await login(client, "alice")), bearer(await login(client, "bob"))


async def _sse_until(http: httpx.AsyncClient, path: str, headers: dict[str, str], marker: str) -> str:
    """An SSE stream from the start, up to the first event that names ``marker``.

    Replayed events come in id order before live ones, so when an event newer than every other one (the caller's
    own marker job) arrives, everything the stream would ever replay has been seen; heartbeats may come in between
    (a slow replay page does not hold them back)."""
    text = ""
    async with http.stream("GET", path, headers=headers, params={"after": 0}) as r:
        assert r.status_code == 200
        async for chunk in r.aiter_text():
            text += chunk
            if marker in text:
                break
    return text


async def _marker_job(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A job of the caller's own, created now: its ``queued`` event is newer than everything before it."""
    r = await http.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers=headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


CASES = [("open", "client"), ("client", "client"), ("user", "user"), ("open", "user")]


@pytest.mark.parametrize("mode, who", CASES)
async def test_streams_and_assets_are_owner_scoped(client: httpx.AsyncClient, runtime: Runtime, live_server: Any,
                                                    mode: str, who: str) -> None:
    a, b = await _callers(client, runtime, mode, who)
    image = (await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "fox", "width": 64,
                                                                                     "height": 64}}, headers=a)).json()
    await drain(runtime)
    assets = (await client.get("/v1/assets", params={"job_id": image["id"]}, headers=a)).json()["items"]
    assert assets
    for asset in assets:
        r = await client.delete(f"/v1/assets/{asset['id']}", headers=b)
        assert r.status_code == 404 and r.json()["code"] == "asset_not_found"
    assert (await client.get(f"/v1/assets/{assets[0]['id']}", headers=a)).status_code == 200
    # Studio's status poll (a hot path that skips routing) is scoped the same way
    hidden = await client.get(f"/api/status/{image['id']}", headers=b)
    unknown = await client.get("/api/status/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", headers=b)
    assert hidden.status_code == unknown.status_code == 404 and hidden.json() == unknown.json()
    assert (await client.get(f"/api/status/{image['id']}", headers=a)).json()["status"] == "finished"
    async with live_server(workers=0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            seen_b = await asyncio.wait_for(_sse_until(http, "/v1/events", b, await _marker_job(http, b)), 20)
            seen_a = await asyncio.wait_for(_sse_until(http, "/v1/events", a, image["id"]), 20)
            r = await http.get(f"/v1/jobs/{image['id']}/events", headers=b)
            assert r.status_code == 404 and r.json()["code"] == "job_not_found"
        assert image["id"] in seen_a and image["id"] not in seen_b
        if mode == "open":
            async with httpx.AsyncClient(base_url=url, timeout=20) as http:
                marker = await _marker_job(http, {})
                assert image["id"] not in await asyncio.wait_for(_sse_until(http, "/v1/events", {}, marker), 20)
        ws_url = url.replace("http://", "ws://") + "/v1/ws"
        query = (f"?token={b['Authorization'].split()[1]}" if who == "user" else "?client_id=device-bbbb-2")
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            own = await _marker_job(http, b)
        async with connect(ws_url + query) as ws:
            # Another owner's job is refused; then the caller's own job replays, so nothing of the first can
            # still be on its way.
            await ws.send(json.dumps({"op": "subscribe", "jobs": [image["id"]], "after": 0}))
            await ws.send(json.dumps({"op": "subscribe", "jobs": [own], "after": 0}))
            got: list[dict[str, Any]] = []
            while not any(m.get("job_id") == own for m in got):
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg.get("type") != "heartbeat":
                    got.append(msg)
        errors = [m for m in got if m.get("type") == "error"]
        assert errors and all(m.get("code") == "job_not_found" for m in errors), got
        assert image["id"] not in json.dumps([m for m in got if m.get("type") != "error"])


@pytest.mark.parametrize("kind, field", [("image.analyze", "image_asset_id"),
                                         ("video.generate", "image_asset_id")])
async def test_jobs_cannot_read_another_owners_input_asset(client: httpx.AsyncClient, runtime: Runtime,
                                                           kind: str, field: str) -> None:
    a, b = {"X-Client-Id": "device-aaaa-1"}, {"X-Client-Id": "device-bbbb-2"}
    image = (await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "fox", "width": 64,
                                                                                     "height": 64}}, headers=a)).json()
    await drain(runtime)
    asset_id = (await client.get("/v1/assets", params={"job_id": image["id"]}, headers=a)).json()["items"][0]["id"]
    extra = {"prompt": "a fox running"} if kind == "video.generate" else {}
    stolen = (await client.post("/v1/jobs", json={"kind": kind, "input": {field: asset_id, **extra}}, headers=b)).json()
    unknown = (await client.post("/v1/jobs", json={"kind": kind, "input": {
        field: "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", **extra}}, headers=b)).json()
    own = (await client.post("/v1/jobs", json={"kind": kind, "input": {field: asset_id, **extra}}, headers=a)).json()
    await drain(runtime)
    stolen = (await client.get(f"/v1/jobs/{stolen['id']}", headers=b)).json()
    unknown = (await client.get(f"/v1/jobs/{unknown['id']}", headers=b)).json()
    assert stolen["status"] == unknown["status"] == "failed", (stolen, unknown)
    assert stolen["error"]["code"] == unknown["error"]["code"] == "asset_not_found"
    assert stolen["result"] is None
    assert (await client.get(f"/v1/jobs/{own['id']}", headers=a)).json()["status"] == "succeeded"
