"""Two client ids: everything one creates answers 404 to the other on every HuaBan route, and lists never
show another client's rows."""

from __future__ import annotations

import httpx

from genloom.runtime import Runtime
from tests.conftest import drain
from tests.huaban.conftest import CLIENT_A, CLIENT_B, Huaban, drawing_png


async def test_every_route_is_isolated(client: httpx.AsyncClient, runtime: Runtime) -> None:
    owner, other = Huaban(client, CLIENT_A), Huaban(client, CLIENT_B)
    cover = await owner.upload("original", "image/png", drawing_png())
    art = (await owner.call("POST", "/artworks", json={"title": "小猫", "coverAssetId": cover["id"],
                                                     "transcript": "一只小猫"})).json()
    job = (await owner.call("POST", "/generation/jobs", json={"artworkId": art["id"]})).json()["jobId"]
    await drain(runtime)
    await drain(runtime)
    await owner.call("POST", "/grow/profile", json={"nickname": "豆豆", "age": 6})
    png = drawing_png(seed=3)
    signed = (await owner.call("POST", "/upload/presign",
                               json={"type": "original", "mime": "image/png", "size": len(png)})).json()
    await owner.put_file(signed, png)

    not_found = [
        ("GET", f"/artworks/{art['id']}", None),
        ("PATCH", f"/artworks/{art['id']}", {"title": "mine now"}),
        ("DELETE", f"/artworks/{art['id']}", None),
        ("GET", f"/generation/jobs/{job}", None),
        ("POST", f"/generation/jobs/{job}/retry", None),
        ("POST", f"/generation/jobs/{job}/capture", {}),
        ("POST", "/generation/jobs", {"artworkId": art["id"]}),
        ("GET", f"/ai/analyses/{art['id']}", None),
        ("POST", f"/ai/analyses/{art['id']}", None),
        ("POST", "/media/commit", {"key": signed["key"], "mime": "image/png", "size": len(png)}),
        ("POST", "/upload/presign", {"type": "audio", "mime": "audio/wav", "size": 100, "artworkId": art["id"]}),
        ("POST", "/artworks", {"title": "stolen", "coverAssetId": art["id"]}),
    ]
    for method, path, body in not_found:
        response = await other.call(method, path, json=body) if body is not None else await other.call(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"].endswith("not_found"), (method, path)

    stolen_cover = await other.call("POST", "/artworks", json={"title": "x", "coverAssetId": cover["id"]})
    assert stolen_cover.status_code == 404
    stolen_avatar = await other.call("POST", "/grow/profile", json={"avatarAssetId": cover["id"]})
    assert stolen_avatar.status_code == 404

    assert (await other.call("GET", "/gallery")).json() == {"items": [], "nextCursor": None}
    assert (await other.call("GET", "/images")).json() == {"items": []}
    assert (await other.call("GET", "/grow/profile")).json()["nickname"] is None
    assert (await other.call("GET", "/grow/report")).json()["artworkCount"] == 0
    # the owner still has everything
    assert (await owner.call("GET", f"/artworks/{art['id']}")).json()["title"] == art["title"]
    assert len((await owner.call("GET", "/gallery")).json()["items"]) == 1
    assert (await owner.call("GET", "/grow/profile")).json()["nickname"] == "豆豆"
    # the native event stream answers the owner's client id only
    events = await client.get(f"/v1/jobs/{job}/events", headers={"X-Client-Id": CLIENT_B})
    assert events.status_code == 404

