"""Isolation matrix entries of HuaBan (README.md here). Its callers are anonymous clients (X-Client-Id): the
owner is a client id, and the signed-in callers (another user, the owner's user, an administrator) and the
anonymous caller send none, so HuaBan turns them away with 400 ``client_id_required`` before any lookup. Routes
that take the owner's ids in their body (``artworkId``, ``coverAssetId``, an upload's ``key``) are checked by
:func:`_body_ids_refused`; the set-up calls are the frontend's (tests/huaban/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.huaban.conftest import Huaban, drawing_png
from tests.security.isolation.matrix import FOREIGN, Case, Context, Custom, Listing, Owned, dump

OWNER = "owner_client"
#: callers that send no X-Client-Id: the owner's own user and an administrator are not HuaBan clients either
REFUSED = ("other_user", "anonymous", "owner")


def _owned(**kw: Any) -> Owned:
    return Owned(refused=REFUSED, refusal=(400,), admin_sees=False, **kw)


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """An artwork whose title, transcript and profile nickname carry the marker, its finished generation job
    (story and video), and a presigned, uploaded but not yet committed drawing."""
    marker = f"isolation-{uuid.uuid4().hex[:12]}"
    hb = Huaban(ctx.client, ctx.headers[owner]["X-Client-Id"])
    cover = await hb.upload("original", "image/png", drawing_png())
    r = await hb.call("POST", "/artworks", json={"title": marker, "coverAssetId": cover["id"],
                                               "transcript": f"一只小猫 {marker}"})
    assert r.status_code == 201, r.text
    art = r.json()
    r = await hb.call("POST", "/generation/jobs", json={"artworkId": art["id"]})
    assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    await ctx.drain()
    await ctx.drain()  # the story, then the video
    r = await hb.call("POST", "/grow/profile", json={"nickname": marker, "age": 6})
    assert r.status_code == 200, r.text
    videos = (await hb.call("GET", "/images")).json()["items"]
    assert videos, "the generation stored no video"
    png = drawing_png(seed=5)
    signed = (await hb.call("POST", "/upload/presign", json={"type": "original", "mime": "image/png",
                                                             "size": len(png)})).json()
    assert (await hb.put_file(signed, png)).status_code in (200, 201)
    return {"marker": marker, "artwork_id": art["id"], "job_id": job_id,
            "cover_asset_id": cover["id"], "video_key": videos[0]["key"], "upload_key": signed["key"],
            "upload_size": str(len(png))}


Body = Callable[[dict[str, str]], dict[str, Any]]


def _body_ids_refused(method: str, path: str, body: Body, ok: tuple[int, ...]) -> Custom:
    """A route naming the owner's resources in its JSON body: another client id gets 404, callers without a
    client id 400, nobody sees the marker; the owner, sending the same body, gets one of ``ok``."""

    async def check(ctx: Context, mine: dict[str, str]) -> None:
        for caller in (*FOREIGN, "owner", "admin"):
            r = await ctx.client.request(method, path, json=body(mine), headers=ctx.headers[caller])
            expected = 404 if caller == "other_client" else 400
            assert r.status_code == expected, f"{method} {path} as {caller}: {r.status_code} {dump(r)[:400]}"
            assert mine["marker"] not in r.text, f"{method} {path} as {caller} shows the marker: {r.text[:400]}"
        r = await ctx.client.request(method, path, json=body(mine), headers=ctx.headers[OWNER])
        assert r.status_code in ok, f"{method} {path} as the owner: {r.status_code} {dump(r)[:400]}"

    return Custom(check)


async def _upload_form_refused(ctx: Context, mine: dict[str, str]) -> None:
    """POST /media/upload into the owner's artwork: 404 for another client id, the owner's file is stored."""
    png = drawing_png(seed=7)
    for caller in (*FOREIGN, "owner", "admin"):
        r = await ctx.client.post("/media/upload", headers=ctx.headers[caller],
                                  data={"type": "original", "artworkId": mine["artwork_id"]},
                                  files={"file": ("d.png", png, "image/png")})
        expected = 404 if caller == "other_client" else 400
        assert r.status_code == expected, f"POST /media/upload as {caller}: {r.status_code} {dump(r)[:400]}"
    r = await ctx.client.post("/media/upload", headers=ctx.headers[OWNER],
                              data={"type": "original", "artworkId": mine["artwork_id"]},
                              files={"file": ("d.png", png, "image/png")})
    assert r.status_code == 201 and r.json()["artworkId"] == mine["artwork_id"], dump(r)[:400]


async def _init_is_per_caller(ctx: Context, mine: dict[str, str]) -> None:
    """POST /init answers the caller's own client id (or a new one), never the owner's."""
    owner_id = ctx.headers[OWNER]["X-Client-Id"]
    for caller in (*FOREIGN, "owner", "admin"):
        r = await ctx.client.post("/init", headers=ctx.headers[caller])
        assert r.status_code == 200, f"POST /init as {caller}: {r.status_code} {dump(r)[:300]}"
        assert r.json()["clientId"] != owner_id and mine["marker"] not in r.text, (caller, r.text[:300])
    r = await ctx.client.post("/init", headers=ctx.headers[OWNER])
    assert r.status_code == 200 and r.json()["clientId"] == owner_id, dump(r)[:300]


async def _report_counts_own(ctx: Context, mine: dict[str, str]) -> None:
    """GET /grow/report counts the caller's artworks only."""
    for caller in (*FOREIGN, "owner", "admin"):
        r = await ctx.client.get("/grow/report", headers=ctx.headers[caller])
        if caller == "other_client":
            assert r.status_code == 200 and r.json()["artworkCount"] == 0, (caller, dump(r)[:300])
        else:
            assert r.status_code == 400, (caller, r.status_code, dump(r)[:300])
        assert mine["marker"] not in r.text
    r = await ctx.client.get("/grow/report", headers=ctx.headers[OWNER])
    assert r.status_code == 200 and r.json()["artworkCount"] >= 1, dump(r)[:300]


async def _fresh_cover(ctx: Context, mine: dict[str, str]) -> dict[str, Any]:
    return await Huaban(ctx.client, ctx.headers[OWNER]["X-Client-Id"]).upload("original", "image/png",
                                                                              drawing_png(seed=9))


async def _artwork_create_refused(ctx: Context, mine: dict[str, str]) -> None:
    """POST /artworks with the owner's drawing as the cover: 404 for another client id; the owner's new drawing
    becomes an artwork."""
    cover = await _fresh_cover(ctx, mine)
    await _body_ids_refused("POST", "/artworks", lambda m: {"title": "stolen", "coverAssetId": cover["id"]},
                            (201,)).check(ctx, mine)


ROUTES: dict[str, Case] = {
    "POST /init": Custom(_init_is_per_caller),
    "POST /upload/presign": _body_ids_refused(
        "POST", "/upload/presign",
        lambda m: {"type": "audio", "mime": "audio/wav", "size": 100, "artworkId": m["artwork_id"]}, (200,)),
    "POST /media/commit": _body_ids_refused(
        "POST", "/media/commit",
        lambda m: {"key": m["upload_key"], "mime": "image/png", "size": int(m["upload_size"])}, (201,)),
    "POST /media/upload": Custom(_upload_form_refused),
    "GET /images": Listing(refused=REFUSED, admin_sees=False, shows=("video_key",)),
    "POST /artworks": Custom(_artwork_create_refused),
    "GET /artworks/{artwork_id}": _owned(),
    "PATCH /artworks/{artwork_id}": _owned(json={"description": "taken over"}),
    "DELETE /artworks/{artwork_id}": _owned(ok=(204,), destructive=True),
    "GET /gallery": Listing(refused=REFUSED, admin_sees=False, shows=("artwork_id", "marker")),
    "POST /generation/jobs": _body_ids_refused(
        "POST", "/generation/jobs", lambda m: {"artworkId": m["artwork_id"]}, (202, 409)),
    "GET /generation/jobs/{job_id}": _owned(),
    "POST /generation/jobs/{job_id}/retry": _owned(ok=(202, 409)),
    "POST /generation/jobs/{job_id}/capture": _owned(json={}, ok=(200, 409)),
    "GET /ai/analyses/{artwork_id}": _owned(),
    "POST /ai/analyses/{artwork_id}": _owned(ok=(202,)),
    "GET /grow/profile": Listing(refused=REFUSED, admin_sees=False, shows=("marker",)),
    "POST /grow/profile": _body_ids_refused(
        "POST", "/grow/profile", lambda m: {"avatarAssetId": m["cover_asset_id"]}, (200,)),
    "GET /grow/report": Custom(_report_counts_own),
}
