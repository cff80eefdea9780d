"""What the OpenAPI document says of the GenFlow article and assistant routes is what they accept: JSON integers
(``2.0`` is one, ``"2"`` and ``true`` are not), a PATCH that changes something, the cursor shapes, a search
with no searchable word, an empty Last-Event-ID."""

from __future__ import annotations

import re

import httpx

from genloom.core.paging import CURSOR_PATTERN, OFFSET_CURSOR_PATTERN
from tests.articles.conftest import Cast, token_for


async def test_integers_patch_and_search_as_documented(client: httpx.AsyncClient, cast: Cast) -> None:
    me = await token_for(client, "author")
    r = await client.post("/articles", json={"title": "t", "content": "第一稿"}, headers=me)
    url = f"/articles/{r.json()['id']}"
    for version in ("1", True, 1.5):
        r = await client.put(url, json={"content": "x", "version": version}, headers=me)
        assert r.status_code == 400 and r.json()["field"] == "version", (version, r.text)
    r = await client.put(url, json={"content": "第二稿", "version": 1.0}, headers=me)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    for body in ({}, {"title": None}, {"status": None, "title": "t2"}):
        r = await client.patch(url, json=body, headers=me)
        assert r.status_code == 400, (body, r.text)
    assert (await client.patch(url, json={"title": "t2"}, headers=me)).json()["title"] == "t2"
    r = await client.get("/articles/search", params={"q": "!!! ，。"}, headers=me)
    assert r.status_code == 200 and r.json() == {"items": [], "nextCursor": None}
    assert (await client.get("/articles", params={"status": "live"}, headers=me)).status_code == 400
    r = await client.get("/articles", params={"author": "me", "status": "draft"}, headers=me)
    assert [a["title"] for a in r.json()["items"]] == ["t2"]
    # the cursors this server issues have the shapes the document gives them
    await client.post("/articles", json={"title": "t3"}, headers=me)
    page = (await client.get("/articles", params={"limit": 1}, headers=me)).json()
    assert re.fullmatch(CURSOR_PATTERN, page["nextCursor"])
    page = (await client.get(f"{url}/versions", params={"limit": 1}, headers=me)).json()
    assert re.fullmatch(OFFSET_CURSOR_PATTERN, page["nextCursor"])
    doc = (await client.get("/openapi.json")).json()
    patch = doc["components"]["schemas"]["ArticlePatch"]
    assert patch["minProperties"] == 1 and all(p["type"] == "string" for p in patch["properties"].values())
    search = {p["name"]: p["schema"] for p in doc["paths"]["/articles/search"]["get"]["parameters"]}
    assert search["cursor"]["pattern"] == OFFSET_CURSOR_PATTERN


async def test_assistant_stream_takes_an_empty_last_event_id(client: httpx.AsyncClient, cast: Cast) -> None:
    me = await token_for(client, "author")
    chat = (await client.post("/assistant/sessions", json={}, headers=me)).json()
    exchange = (await client.post(f"/assistant/sessions/{chat['id']}/messages", json={"content": "你好"},
                                  headers=me)).json()
    stream = f"/assistant/sessions/{chat['id']}/messages/{exchange['message']['id']}/stream"
    r = await client.get(stream, headers={**me, "Last-Event-ID": ""})
    assert r.status_code == 200 and "event: done" in r.text, r.text
    for bad in ("x", "-1", str(2**63)):
        r = await client.get(stream, headers={**me, "Last-Event-ID": bad})
        assert r.status_code == 400 and r.json()["field"] == "Last-Event-ID", (bad, r.text)
    r = await client.post("/assistant/complete", json={"articleId": exchange["message"]["id"], "instruction": "续写",
                                                       "cursor": "3"}, headers=me)
    assert r.status_code == 400 and r.json()["field"] == "cursor", r.text
