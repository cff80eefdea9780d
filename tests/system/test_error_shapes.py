"""The error shapes of docs/errors.md, one request each: problem+json's title is the short class and detail the
specific text; a body that is not JSON is named as such (no field "0") in every surface's shape."""

from __future__ import annotations

import httpx

NOT_JSON = {"content": b"{not json", "headers": {"content-type": "application/json"}}


async def test_problem_json_title_is_the_class_and_detail_the_specifics(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": ""}})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["title"] == "Validation failed" and body["code"] == "invalid_input"
    assert body["detail"] == "input.prompt: String should have at least 1 character" == body["message"]
    assert body["field"] == "input.prompt"
    shape = (await client.post("/v1/jobs", json={"kind": "noop", "priority": "high"})).json()
    assert (shape["title"], shape["code"], shape["field"]) == ("Validation failed", "validation_error", "priority")
    assert shape["detail"].startswith("priority: ") and shape["errors"][0]["loc"] == ["body", "priority"]
    missing = (await client.get("/v1/jobs/no-such-job")).json()
    assert (missing["title"], missing["status"]) == ("Not found", 404) and missing["detail"] != missing["title"]


async def test_a_body_that_is_not_json_is_named_in_each_shape(client: httpx.AsyncClient) -> None:
    native = await client.post("/v1/jobs", **NOT_JSON)
    assert native.status_code == 400
    body = native.json()
    assert (body["code"], body["title"]) == ("invalid_json", "Malformed request body") and "field" not in body
    assert body["detail"].startswith("the request body is not valid JSON")

    cinemind = await client.post("/tasks/generate", **NOT_JSON)
    assert cinemind.status_code == 400
    envelope = cinemind.json()
    assert envelope["code"] == 40001 and envelope["message"].startswith("the request body is not valid JSON")
    assert envelope["data"] == {"error": "invalid_json", "field": None}

    studio = await client.post("/api/generate", **NOT_JSON)
    assert studio.status_code == 400
    assert studio.json()["error"].startswith("the request body is not valid JSON")
