"""The native job API as a newcomer first meets it: an unknown kind names the valid ones, no input means an
empty input, and a finished job's phase is "done" (not the last step it ran)."""

from __future__ import annotations

import httpx

from genloom.runtime import Runtime
from tests.conftest import drain


async def test_an_unknown_kind_lists_the_valid_kinds(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.post("/v1/jobs", json={"kind": "image.gen", "input": {}})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    valid = runtime.kinds.names()
    assert body["code"] == "unknown_kind" and body["field"] == "kind"
    assert body["detail"] == f"unknown job kind 'image.gen'; valid kinds: {', '.join(valid)}"
    assert body["valid_kinds"] == valid and {"image.generate", "noop"} <= set(valid)


async def test_no_input_is_an_empty_input(client: httpx.AsyncClient, runtime: Runtime) -> None:
    created = await client.post("/v1/jobs", json={"kind": "noop"})
    assert created.status_code == 202, created.text
    assert created.json()["input"] == {}
    missing = await client.post("/v1/jobs", json={"kind": "image.generate"})  # a kind that needs a field says so
    assert missing.status_code == 400 and missing.json()["field"] == "input.prompt"
    await drain(runtime)
    done = (await client.get(f"/v1/jobs/{created.json()['id']}")).json()
    assert (done["status"], done["phase"], done["progress"]) == ("succeeded", "done", 100)


async def test_a_finished_job_is_in_phase_done(client: httpx.AsyncClient, runtime: Runtime) -> None:
    created = (await client.post("/v1/jobs", json={"kind": "image.generate",
                                                   "input": {"prompt": "a cat", "width": 64, "height": 64}})).json()
    batch = (await client.post("/v1/jobs", json={"kind": "noop", "inputs": [{}, {}]})).json()
    await drain(runtime)
    job = (await client.get(f"/v1/jobs/{created['id']}")).json()
    assert (job["status"], job["phase"]) == ("succeeded", "done")
    parent = (await client.get(f"/v1/jobs/{batch['id']}")).json()
    assert (parent["status"], parent["phase"]) == ("succeeded", "done")
