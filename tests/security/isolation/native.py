"""Isolation matrix entries of the native surface: jobs, their events, assets, WS /v1/ws (README.md here)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import connect

from tests.security.isolation.matrix import Case, Context, Custom, Listing, Owned, Stream, Unowned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """A finished image job (with its stored image) whose prompt carries the marker."""
    marker = f"isolation-{uuid.uuid4().hex[:12]}"
    r = await ctx.client.post("/v1/jobs", headers=ctx.headers[owner], json={
        "kind": "image.generate", "input": {"prompt": f"a fox, {marker}", "width": 64, "height": 64}})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    await ctx.drain()
    assets = (await ctx.client.get("/v1/assets", params={"job_id": job_id}, headers=ctx.headers[owner])).json()
    return {"marker": marker, "job_id": job_id, "asset_id": assets["items"][0]["id"]}


async def _ws_subscription_yields_nothing(ctx: Context, mine: dict[str, str]) -> None:
    """Subscribing to another's job (replayed from event 0) delivers no event of it; the owner gets them."""
    base = ctx.url.replace("http://", "ws://") + "/v1/ws"
    token = {c: ctx.headers[c].get("Authorization", "").removeprefix("Bearer ") for c in ctx.headers}
    queries = {"other_user": f"?token={token['other_user']}", "other_client": "?client_id=isolation-other-0002",
               "anonymous": "", "owner": f"?token={token['owner']}"}
    for caller, query in queries.items():
        got: list[dict[str, Any]] = []
        async with connect(base + query) as ws:
            await ws.send(json.dumps({"op": "subscribe", "jobs": [mine["job_id"]], "after": 0}))
            if caller != "owner":
                await ws.send(json.dumps({"op": "ping"}))  # answered with a heartbeat, after the refusal
            while not any(m.get("type") == "heartbeat" or m.get("event") == "succeeded" for m in got):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        events = [m for m in got if m.get("type") == "event" and m.get("job_id") == mine["job_id"]]
        if caller == "owner":
            assert events, f"WS /v1/ws: the owner got no event of their job: {got}"
        else:
            assert not events and mine["marker"] not in json.dumps(got), f"WS /v1/ws as {caller}: {got}"


ROUTES: dict[str, Case] = {
    "POST /v1/jobs": Unowned("creates a job owned by the caller; every read below proves the scoping"),
    "GET /v1/jobs": Listing(shows=("job_id", "marker")),
    "GET /v1/jobs/{job_id}": Owned(),
    "POST /v1/jobs/{job_id}/cancel": Owned(ok=(409,)),  # a finished job cannot be canceled: the owner learns so
    "POST /v1/jobs/{job_id}/retry": Owned(ok=(409,)),  # nor retried once it succeeded
    "GET /v1/jobs/{job_id}/events": Stream(),
    "GET /v1/events": Stream(),
    "WS /v1/ws": Custom(_ws_subscription_yields_nothing),
    "GET /v1/queue": Unowned("counts per status and kind across the queue, no job ids or inputs"),
    "GET /v1/assets": Listing(shows=("asset_id",)),
    "GET /v1/assets/{asset_id}": Owned(),
    "DELETE /v1/assets/{asset_id}": Owned(ok=(204,), destructive=True),
    "GET /media/{key}": Unowned("a signed URL: whoever holds the signature may read it (tests/security/test_traversal.py"
                                " and tests/media check signatures)"),
    "PUT /media/{key}": Unowned("a presigned upload URL: the signature is the permission"),
}
