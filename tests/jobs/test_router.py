"""The native /v1 job API over HTTP (in-process ASGI client)."""

from __future__ import annotations

import httpx

from genloom.runtime import Runtime
from tests.conftest import drain


async def test_create_get_and_finish(client: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "a red fox", "width": 128, "height": 96, "seed": 3}})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["kind"] == "image.generate" and job["children"] is None
    assert set(job) >= {"id", "kind", "status", "phase", "progress", "priority", "attempts", "max_attempts", "input",
                        "result", "error", "parent_id", "children", "created_at", "started_at", "finished_at"}
    await drain(runtime)
    done = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert done["status"] == "succeeded", done
    [image] = done["result"]["images"]
    assert image["width"] == 128 and image["height"] == 96 and image["mime"] == "image/png"
    assert set(image) >= {"asset_id", "url", "thumbnail_url", "width", "height", "mime", "sha256"}
    assert done["result"]["prompt"]["final"] and done["result"]["provider"] == "local"
    media = await client.get(image["url"])
    assert media.status_code == 200 and media.content[:4] == b"\x89PNG"


async def test_validation_errors_are_problem_json(client: httpx.AsyncClient) -> None:
    cases = [
        ({"kind": "image.generate", "input": {"prompt": ""}}, "input.prompt"),
        ({"kind": "image.generate", "input": {"prompt": "x", "count": 9}}, "input.count"),
        ({"kind": "nope", "input": {}}, "kind"),
        ({"kind": "image.generate"}, "input.prompt"),  # no input is an empty one, which lacks a prompt
        ({"kind": "noop", "input": {}, "priority": "high"}, "priority"),
        ({"kind": "noop", "input": {}, "inputs": [{}]}, None),
    ]
    for body, field in cases:
        r = await client.post("/v1/jobs", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] and problem["message"] and problem["status"] == 400
        if field:
            assert problem["field"] == field, problem
    assert (await client.get("/v1/jobs")).json()["items"] == []


async def test_list_filters_and_paging(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = [(await client.post("/v1/jobs", json={"kind": "noop", "input": {"i": i}})).json()["id"] for i in range(5)]
    await client.post("/v1/jobs", json={"kind": "sleep", "input": {"seconds": 0}})
    page = (await client.get("/v1/jobs", params={"kind": "noop", "limit": 3})).json()
    assert [j["id"] for j in page["items"]] == ids[::-1][:3] and page["next_cursor"]
    rest = (await client.get("/v1/jobs", params={"kind": "noop", "limit": 3, "cursor": page["next_cursor"]})).json()
    assert [j["id"] for j in rest["items"]] == ids[::-1][3:] and rest["next_cursor"] is None
    assert (await client.get("/v1/jobs", params={"status": "bogus"})).status_code == 400
    assert (await client.get("/v1/jobs", params={"cursor": "%%%"})).status_code == 400
    await drain(runtime)
    assert len((await client.get("/v1/jobs", params={"status": "succeeded"})).json()["items"]) == 6


async def test_cancel_retry_and_idempotency(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first = await client.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers={"Idempotency-Key": "abc"})
    second = await client.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers={"Idempotency-Key": "abc"})
    assert first.json()["id"] == second.json()["id"]
    job_id = first.json()["id"]
    canceled = await client.post(f"/v1/jobs/{job_id}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    again = await client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "job_state_conflict"
    retried = await client.post(f"/v1/jobs/{job_id}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    await drain(runtime)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "succeeded"
    assert (await client.post(f"/v1/jobs/{job_id}/retry")).status_code == 409
    for path in ("/v1/jobs/nope", "/v1/jobs/nope/cancel", "/v1/jobs/nope/retry"):
        r = await (client.get(path) if path.endswith("nope") else client.post(path))
        assert r.status_code == 404 and r.json()["code"] == "job_not_found"


async def test_empty_idempotency_key_is_no_key(client: httpx.AsyncClient) -> None:
    # A bare "Idempotency-Key:" header used to be stored as "" and crash the second request on the unique index.
    ids = []
    for _ in range(2):
        r = await client.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers={"Idempotency-Key": ""})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    assert ids[0] != ids[1]
    tasks = [await client.post("/tasks/generate", json={"prompts": {"zh": "竹林"}}, headers={"Idempotency-Key": ""})
             for _ in range(2)]
    assert [t.status_code for t in tasks] == [202, 202], tasks[1].text
    assert tasks[0].json()["data"]["taskId"] != tasks[1].json()["data"]["taskId"]


async def test_batch_over_http(client: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await client.post("/v1/jobs", json={"kind": "image.generate", "inputs": [{"prompt": "a"}, {"prompt": "b", "width": 64, "height": 64}]})
    assert r.status_code == 202
    parent = r.json()
    assert parent["children"] == {"queued": 2}
    bad = await client.post("/v1/jobs", json={"kind": "image.generate", "inputs": [{"prompt": "a"}, {"prompt": ""}]})
    assert bad.status_code == 400 and bad.json()["field"] == "inputs.1.prompt"
    await drain(runtime)
    done = (await client.get(f"/v1/jobs/{parent['id']}")).json()
    assert done["status"] == "succeeded" and done["children"] == {"succeeded": 2} and done["progress"] == 100
    kids = (await client.get("/v1/jobs", params={"parent_id": parent["id"]})).json()["items"]
    assert len(kids) == 2 and all(k["result"]["images"] for k in kids)


async def test_queue_stats(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await client.post("/v1/jobs", json={"kind": "noop", "input": {}})
    stats = (await client.get("/v1/queue")).json()
    assert stats["by_status"]["queued"] == 1 and stats["by_kind"]["noop"] == {"queued": 1}
    assert stats["oldest_queued_age_seconds"] >= 0 and isinstance(stats["workers"], list)


async def test_every_route_documents_an_example(client: httpx.AsyncClient) -> None:
    """Every operation shows an example: inline, or in a schema it references (request or response)."""
    import re

    doc = (await client.get("/openapi.json")).json()
    schemas = doc.get("components", {}).get("schemas", {})

    def has_example(node: object, seen: set[str]) -> bool:
        text = str(node)
        if "'example'" in text or "'examples'" in text:
            return True
        for ref in re.findall(r"#/components/schemas/([\w.\-]+)", text):
            if ref not in seen and ref in schemas:
                seen.add(ref)
                if has_example(schemas[ref], seen):
                    return True
        return False

    missing = [
        f"{method.upper()} {path}"
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if not has_example(op, set())
    ]
    assert not missing, missing
