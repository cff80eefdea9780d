"""U+0000 in a path, query or JSON body is bad input (400 naming the field), never a database crash."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from genloom.jobs.models import Job, JobEvent
from genloom.runtime import Runtime


async def test_native_surface_refuses_nul(client: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await client.get("/v1/jobs", params={"kind": "a\x00b"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_characters" and r.json()["field"] == "kind"
    r = await client.get("/v1/jobs/a%00b")
    assert r.status_code == 400 and r.json()["field"] == "path"
    r = await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "a\x00b"}})
    assert r.status_code == 400 and r.json()["field"] == "input.prompt", r.text
    r = await client.post("/v1/jobs", json={"kind": "noop", "inputs": [{}, {"x\x00": 1}]})
    assert r.status_code == 400 and r.json()["field"] == "inputs.1"
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(Job.id))).all() == []
        assert (await s.execute(select(JobEvent.id))).all() == []
    r = await client.post("/auth/login", data={"username": "ab\x00c", "password": "pw"})
    assert r.status_code == 400 and r.json()["field"] == "username", r.text
    # an escaped backslash before "u0000" is plain text, not NUL
    ok = await client.post("/v1/jobs", content=b'{"kind": "image.generate", "input": {"prompt": "C:\\\\u0000"}}',
                           headers={"content-type": "application/json"})
    assert ok.status_code == 202, ok.text


async def test_studio_and_cinemind_refuse_nul_in_their_shapes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await client.post("/api/generate", json={"prompt": "a\x00b"})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_characters" and r.json()["field"] == "prompt" and r.json()["error"]
    r = await client.get("/nodes", params={"q": "a\x00"})
    body = r.json()
    assert r.status_code == 400 and body["code"] != 0 and body["message"], body
    assert body["data"]["error"] == "invalid_characters" and body["data"]["field"] == "q"
    r = await client.post("/tasks/generate", json={"prompts": {"zh": "竹林\x00"}})
    assert r.status_code == 400 and r.json()["data"]["field"] == "prompts.zh"
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(Job.id))).all() == []


async def test_nul_in_a_property_name_is_refused_and_documented(client: httpx.AsyncClient, runtime: Runtime) -> None:
    # Studio's body is open to fields it ignores; a NUL in such a field's name is still refused, on the object
    r = await client.post("/api/generate", json={"prompt": "雨夜", "x\x00": 1})
    assert r.status_code == 400 and (r.json()["code"], r.json()["field"]) == ("invalid_characters", "body"), r.text
    assert "property names" in r.json()["error"]
    r = await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "p", "meta": {"a\x00": 1}}})
    assert r.status_code == 400 and r.json()["field"] == "input.meta", r.text
    async with runtime.db.read_session() as s:
        assert (await s.execute(select(Job.id))).all() == []
    doc = (await client.get("/openapi.json")).json()
    studio = doc["components"]["schemas"]["GenerateRequest"]
    assert studio["propertyNames"] == {"pattern": "^[^\\u0000]*$"} and "additionalProperties" not in studio
    assert "propertyNames" not in doc["components"]["schemas"]["ArticleCreate"]  # closed: no other name is valid
    form = doc["paths"]["/auth/refresh"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    token = form["schema"]["properties"]["refresh_token"]
    assert (token["minLength"], token["maxLength"], token["pattern"]) == (1, 300, "^[^\\u0000]*$")
    assert (await client.post("/auth/refresh", data={"refresh_token": ""})).json()["field"] == "refresh_token"
