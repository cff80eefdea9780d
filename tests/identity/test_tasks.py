"""Seed 002 tasks on the native API: a task's subtasks (one per prompt), settings, progress and ratings."""

from __future__ import annotations

import httpx
import pytest

from genloom.runtime import Runtime
from tests.conftest import drain
from tests.identity.conftest import bearer, create_user, login

PROMPTS = [{"prompt": "a red fox"}, {"prompt": "a blue whale"}, {"prompt": "a green frog"}, {"prompt": "a gold carp"}]


async def _task(client: httpx.AsyncClient, headers: dict[str, str], **extra: object) -> dict:
    body = {"kind": "image.generate", "inputs": PROMPTS,
            "setting": {"ratio": "16:9", "batch_size": {"value": 1, "is_variable": False, "variable_id": None},
                        "seed": 42}, **extra}
    r = await client.post("/v1/jobs", json=body, headers=headers)
    assert r.status_code == 202, r.text
    task: dict = r.json()
    return task


class TestTasks:
    async def test_subtasks_progress_and_ratings(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        auth = bearer(await login(client, "mei"))
        task = await _task(client, auth)
        assert task["children"] == {"queued": 4} and task["progress"] == 0

        view = (await client.get(f"/v1/jobs/{task['id']}/subtasks", headers=auth)).json()
        assert (view["total"], view["finished"], view["progress"]) == (4, 0, 0)
        subtasks = view["subtasks"]
        assert sorted(s["input"]["prompt"] for s in subtasks) == sorted(p["prompt"] for p in PROMPTS)
        for s in subtasks:  # the setting reached every subtask
            assert (s["input"]["width"], s["input"]["height"], s["input"]["seed"], s["input"]["count"]) == (1024, 576, 42, 1)

        canceled = subtasks[-1]["id"]
        assert (await client.post(f"/v1/jobs/{canceled}/cancel", headers=auth)).status_code == 200
        view = (await client.get(f"/v1/jobs/{task['id']}/subtasks", headers=auth)).json()
        assert (view["finished"], view["progress"]) == (1, 25)

        await drain(runtime)
        view = (await client.get(f"/v1/jobs/{task['id']}/subtasks", headers=auth)).json()
        assert view["progress"] == 100 and view["counts"] == {"succeeded": 3, "canceled": 1}
        parent = (await client.get(f"/v1/jobs/{task['id']}", headers=auth)).json()
        assert parent["children"] == {"succeeded": 3, "canceled": 1} and parent["progress"] == 100
        first = next(s for s in view["subtasks"] if s["status"] == "succeeded")
        assert first["status"] == "succeeded" and first["result"]["images"][0]["width"] == 1024

        r = await client.put(f"/v1/jobs/{first['id']}/rating", json={"score": 4, "comment": "nice fur"}, headers=auth)
        assert r.status_code == 200 and r.json()["score"] == 4 and r.json()["comment"] == "nice fur"
        created = r.json()["created_at"]
        r = await client.put(f"/v1/jobs/{first['id']}/rating", json={"score": 5}, headers=auth)
        assert r.status_code == 200 and r.json()["score"] == 5 and r.json()["comment"] is None
        assert r.json()["created_at"] == created  # replaced, not duplicated
        assert (await client.get(f"/v1/jobs/{first['id']}/rating", headers=auth)).json()["score"] == 5
        view = (await client.get(f"/v1/jobs/{task['id']}/subtasks", headers=auth)).json()
        ratings = {s["id"]: s["rating"] for s in view["subtasks"]}
        assert ratings.pop(first["id"])["score"] == 5 and set(map(str, ratings.values())) == {"None"}

        for job_id, body, status, code in (
            (canceled, {"score": 3}, 409, "not_ratable"),  # not succeeded
            (task["id"], {"score": 3}, 409, "not_ratable"),  # a task is rated through its subtasks
            (first["id"], {"score": 0}, 400, "validation_error"),
            (first["id"], {"score": 6}, 400, "validation_error"),
            (first["id"], {"score": 3, "comment": "x" * 2001}, 400, "validation_error"),
            (first["id"], {"score": 3, "stars": 2}, 400, "validation_error"),
        ):
            r = await client.put(f"/v1/jobs/{job_id}/rating", json=body, headers=auth)
            assert (r.status_code, r.json()["code"]) == (status, code), (body, r.json())
        assert (await client.get(f"/v1/jobs/{first['id']}/rating", headers=auth)).json()["score"] == 5

        assert (await client.delete(f"/v1/jobs/{first['id']}/rating", headers=auth)).status_code == 204
        r = await client.get(f"/v1/jobs/{first['id']}/rating", headers=auth)
        assert r.status_code == 404 and r.json()["code"] == "rating_not_found"

    async def test_model_steps_cfg_and_polish_reach_the_subtasks(self, client: httpx.AsyncClient,
                                                                 runtime: Runtime) -> None:
        await create_user(runtime, "lin")
        auth = bearer(await login(client, "lin"))
        setting = {"lumina_model_name": {"value": "local-render-v1", "is_variable": False, "variable_id": None},
                   "lumina_cfg": 5.5, "lumina_step": 30, "user_polish": False}
        r = await client.post("/v1/jobs", json={"kind": "image.generate", "inputs": [{"prompt": "一只猫"}],
                                                "setting": setting}, headers=auth)
        assert r.status_code == 202, r.text
        [child] = (await client.get("/v1/jobs", params={"parent_id": r.json()["id"]}, headers=auth)).json()["items"]
        assert {k: child["input"][k] for k in ("model", "cfg", "steps", "polish")} == {
            "model": "local-render-v1", "cfg": 5.5, "steps": 30, "polish": False}
        await drain(runtime)
        done = (await client.get(f"/v1/jobs/{child['id']}", headers=auth)).json()
        assert done["status"] == "succeeded" and done["result"]["prompt"]["final"] == "一只猫"  # not rewritten

    async def test_mine_and_admin_lists(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        await create_user(runtime, "boss", admin=True)
        mei, boss = bearer(await login(client, "mei")), bearer(await login(client, "boss"))
        t_mei = await _task(client, mei)
        t_boss = await _task(client, boss)
        assert {j["id"] for j in (await client.get("/v1/jobs", params={"mine": "true"}, headers=mei)).json()["items"]} == {t_mei["id"]}
        assert {j["id"] for j in (await client.get("/v1/jobs", headers=mei)).json()["items"]} == {t_mei["id"]}
        assert {j["id"] for j in (await client.get("/v1/jobs", headers=boss)).json()["items"]} == {t_mei["id"], t_boss["id"]}
        assert {j["id"] for j in (await client.get("/v1/jobs", params={"mine": "true"}, headers=boss)).json()["items"]} == {t_boss["id"]}
        children = (await client.get("/v1/jobs", params={"parent_id": t_mei["id"]}, headers=mei)).json()["items"]
        assert len(children) == 4
        assert (await client.get("/v1/jobs", params={"parent_id": t_mei["id"]}, headers=boss)).json()["items"]
        assert (await client.get(f"/v1/jobs/{t_mei['id']}/subtasks", headers=boss)).status_code == 200

    @pytest.mark.parametrize(("setting", "field"), [
        ({"ratio": "5:4"}, "setting.ratio"),
        ({"ratio": {"value": "1:1", "is_variable": True, "variable_id": "v1"}}, "setting.ratio"),
        ({"size": "1000x77"}, "setting.size"),
        ({"ratio": "1:1", "size": "512x512"}, "setting"),
        ({"batch_size": 9}, "setting.batch_size"),
        ({"seed": -1}, "setting.seed"),
        ({"make_api_queue": "staging"}, "setting.make_api_queue"),
        ({"make_api_queue": "dev"}, "setting.queue"),  # a deployment setting (MAKE_API_QUEUE): refused, not dropped
        ({"cfg": 31}, "setting.cfg"),
        ({"colour": "red"}, "setting.colour"),
    ])
    async def test_bad_settings(self, client: httpx.AsyncClient, runtime: Runtime, setting: dict, field: str) -> None:
        r = await client.post("/v1/jobs", json={"kind": "image.generate", "inputs": PROMPTS[:2], "setting": setting})
        assert r.status_code == 400, r.text
        assert r.json()["field"] == field, r.json()
        assert (await client.get("/v1/jobs")).json()["items"] == []  # nothing half-written

    async def test_setting_with_one_input_and_item_overrides(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        r = await client.post("/v1/jobs", json={"kind": "image.generate", "input": {"prompt": "a cat"},
                                                "setting": {"size": "512x768", "seed": 1}})
        assert r.status_code == 202 and (r.json()["input"]["width"], r.json()["input"]["height"]) == (512, 768)
        r = await client.post("/v1/jobs", json={"kind": "image.generate", "setting": {"seed": 1},
                                                "inputs": [{"prompt": "a"}, {"prompt": "b", "seed": 2}]})
        kids = (await client.get("/v1/jobs", params={"parent_id": r.json()["id"]})).json()["items"]
        assert sorted(k["input"]["seed"] for k in kids) == [1, 2]
