"""Per-owner isolation on the native API: another owner's jobs and assets answer 404, never 403."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genloom.runtime import Runtime
from tests.conftest import drain
from tests.identity.conftest import bearer, create_user, login


async def _make_jobs(client: httpx.AsyncClient, runtime: Runtime, headers: dict[str, str]) -> dict[str, Any]:
    """A finished image job (with assets) and a finished noop for the caller in ``headers``."""
    image = (await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "a red fox", "seed": 7,
                                                                                     "width": 128, "height": 128}},
                               headers=headers)).json()
    done = (await client.post("/v1/jobs", json={"kind": "noop", "input": {"n": 1}}, headers=headers)).json()
    await drain(runtime)
    image = (await client.get(f"/v1/jobs/{image['id']}", headers=headers)).json()
    assert image["status"] == "succeeded", image
    assets = (await client.get("/v1/assets", params={"job_id": image["id"]}, headers=headers)).json()["items"]
    assert len(assets) == 2  # original + thumbnail
    return {"image": image, "done": done, "assets": assets}


async def _add_queued(client: httpx.AsyncClient, jobs: dict[str, Any], headers: dict[str, str]) -> None:
    """A job left queued (no worker runs after this), to try cancelling it."""
    jobs["queued"] = (await client.post("/v1/jobs", json={"kind": "noop", "input": {"n": 2}}, headers=headers)).json()


async def _assert_hidden(client: httpx.AsyncClient, mine: dict[str, Any], other: dict[str, str]) -> None:
    """``other`` can neither read, list, cancel, retry, rate nor fetch the assets of the jobs in ``mine``."""
    ids = [mine["image"]["id"], mine["done"]["id"], mine["queued"]["id"]]
    listed = (await client.get("/v1/jobs", params={"limit": 200}, headers=other)).json()["items"]
    assert not set(ids) & {j["id"] for j in listed}
    for job_id in ids:
        for method, path, body in (("GET", f"/v1/jobs/{job_id}", None), ("POST", f"/v1/jobs/{job_id}/cancel", None),
                                   ("POST", f"/v1/jobs/{job_id}/retry", None),
                                   ("PUT", f"/v1/jobs/{job_id}/rating", {"score": 1}),
                                   ("GET", f"/v1/jobs/{job_id}/rating", None),
                                   ("DELETE", f"/v1/jobs/{job_id}/rating", None),
                                   ("GET", f"/v1/jobs/{job_id}/subtasks", None),
                                   ("GET", f"/v1/jobs/{job_id}/events", None)):
            r = await client.request(method, path, json=body, headers=other)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()["code"] == "job_not_found"
    # an unknown id answers exactly the same, so ids cannot be probed
    unknown = await client.get("/v1/jobs/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", headers=other)
    hidden = await client.get(f"/v1/jobs/{ids[0]}", headers=other)
    assert (unknown.status_code, unknown.json()["code"]) == (hidden.status_code, hidden.json()["code"])
    for asset in mine["assets"]:
        r = await client.get(f"/v1/assets/{asset['id']}", headers=other)
        assert r.status_code == 404, r.text
    listed_assets = (await client.get("/v1/assets", params={"limit": 200}, headers=other)).json()["items"]
    assert not {a["id"] for a in mine["assets"]} & {a["id"] for a in listed_assets}
    by_job = (await client.get("/v1/assets", params={"job_id": mine["image"]["id"]}, headers=other)).json()["items"]
    assert by_job == []
    # the queued job was not canceled by the attempt
    assert (await client.get(f"/v1/jobs/{ids[2]}")).status_code == 404  # nor visible to the public owner


class TestIsolation:
    async def test_two_users(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "alice")
        await create_user(runtime, "bob")
        a, b = bearer(await login(client, "alice")), bearer(await login(client, "bob"))
        jobs_a = await _make_jobs(client, runtime, a)
        jobs_b = await _make_jobs(client, runtime, b)
        await _add_queued(client, jobs_a, a)
        await _add_queued(client, jobs_b, b)
        await _assert_hidden(client, jobs_a, b)
        await _assert_hidden(client, jobs_b, a)
        queued = (await client.get(f"/v1/jobs/{jobs_a['queued']['id']}", headers=a)).json()
        assert queued["status"] == "queued" and queued["owner_id"].startswith("u:")
        # the owner can use everything the other one could not
        assert (await client.put(f"/v1/jobs/{jobs_a['done']['id']}/rating", json={"score": 5}, headers=a)).status_code == 200
        assert (await client.post(f"/v1/jobs/{jobs_a['queued']['id']}/cancel", headers=a)).status_code == 200
        assert (await client.get(f"/v1/assets/{jobs_a['assets'][0]['id']}", headers=a)).status_code == 200

    async def test_two_client_ids(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        x, y = {"X-Client-Id": "device-xxxx-1"}, {"X-Client-Id": "device-yyyy-2"}
        jobs_x = await _make_jobs(client, runtime, x)
        jobs_y = await _make_jobs(client, runtime, y)
        await _add_queued(client, jobs_x, x)
        await _add_queued(client, jobs_y, y)
        assert jobs_x["image"]["owner_id"] == "c:device-xxxx-1"
        await _assert_hidden(client, jobs_x, y)
        await _assert_hidden(client, jobs_y, x)
        await _assert_hidden(client, jobs_x, {})  # nor to callers without identity

    async def test_user_and_client_are_different_owners(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "alice")
        a = bearer(await login(client, "alice"))
        jobs_c = await _make_jobs(client, runtime, {"X-Client-Id": "device-xxxx-1"})
        await _add_queued(client, jobs_c, {"X-Client-Id": "device-xxxx-1"})
        await _assert_hidden(client, jobs_c, a)

    async def test_admin_reads_everyone(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "alice")
        await create_user(runtime, "boss", admin=True)
        a, admin = bearer(await login(client, "alice")), bearer(await login(client, "boss"))
        jobs_a = await _make_jobs(client, runtime, a)
        own = (await client.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers=admin)).json()
        r = await client.get(f"/v1/jobs/{jobs_a['done']['id']}", headers=admin)
        assert r.status_code == 200
        everyone = {j["id"] for j in (await client.get("/v1/jobs", headers=admin)).json()["items"]}
        assert jobs_a["done"]["id"] in everyone and own["id"] in everyone
        mine = {j["id"] for j in (await client.get("/v1/jobs", params={"mine": "true"}, headers=admin)).json()["items"]}
        assert mine == {own["id"]}
        assert (await client.get(f"/v1/assets/{jobs_a['assets'][0]['id']}", headers=admin)).status_code == 200
        # reading is not owning: only the owner rates
        r = await client.put(f"/v1/jobs/{jobs_a['done']['id']}/rating", json={"score": 3}, headers=admin)
        assert r.status_code == 403 and r.json()["code"] == "not_job_owner"


@pytest.mark.parametrize("mode", ["user", "client"])
async def test_native_surface_can_require_identity(client: httpx.AsyncClient, runtime: Runtime, mode: str) -> None:
    from genloom.core.settings import AuthMode

    runtime.settings.auth_mode_native = AuthMode(mode)
    r = await client.post("/v1/jobs", json={"kind": "noop", "input": {}})
    assert r.status_code == 401
    r = await client.get("/v1/jobs", headers={"X-Client-Id": "device-xxxx-1"})
    assert r.status_code == (200 if mode == "client" else 401)
