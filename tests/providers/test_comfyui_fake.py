"""The fake ComfyUI replays what a real ComfyUI 0.3.64 sent (recordings in tests/fakes/comfyui_traces/): the
WebSocket message sequence of a run, the validation error bodies, /view's error statuses and interrupts.
If the fake drifts from the recordings, the client tests above it stop proving anything."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.fakes.base import FakeServer
from tests.fakes.comfyui import ComfyFake
from tests.fakes.comfyui_server import create_app
from tests.providers.remote import wait_for

TRACES = Path(__file__).parents[1] / "fakes" / "comfyui_traces"


def trace(name: str) -> list[dict[str, Any]]:
    return json.loads((TRACES / f"{name}.json").read_text())["events"]  # type: ignore[no-any-return]


async def until(condition: Callable[[], bool]) -> None:
    async def check() -> bool:
        return condition()

    await wait_for(check)


@pytest.fixture
def fake() -> Iterator[tuple[ComfyFake, FakeServer]]:
    state = ComfyFake(step_seconds=0.2)
    with FakeServer(create_app(state)) as server:
        yield state, server


async def run_and_collect(server: FakeServer, body: dict[str, Any], client_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """POST a prompt and gather our socket's text messages until ``executing {node: null}``."""
    messages: list[dict[str, Any]] = []
    async with connect(f"ws://127.0.0.1:{server.port}/ws?clientId={client_id}", proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}}
        async with httpx.AsyncClient(trust_env=False) as http:
            answer = (await http.post(f"{server.url}/prompt", json=body)).json()
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(frame, bytes):
                continue
            message = json.loads(frame)
            messages.append(message)
            if message["type"] == "executing" and message["data"]["node"] is None:
                return answer, messages


async def test_run_sequence_matches_the_recording(fake: tuple[ComfyFake, FakeServer]) -> None:
    state, server = fake
    state.step_seconds = 0.0
    events = trace("05-prompt-ws-sequence")
    request = next(e for e in events if e["kind"] == "http_request")["request"]["body"]
    recorded = [e["message"] for e in events if e["kind"] == "ws_recv"]
    answer, messages = await run_and_collect(server, request, request["client_id"])
    assert set(answer) == {"prompt_id", "number", "node_errors"} and answer["node_errors"] == {}
    assert [m["type"] for m in messages] == [m["type"] for m in recorded]
    pid = answer["prompt_id"]

    def normal(message: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(message).replace(recorded_pid, pid)
        data = json.loads(text)
        data["data"].pop("timestamp", None)
        return data

    recorded_pid = recorded[2]["data"]["prompt_id"]
    assert [normal(m) for m in recorded] == [{**m, "data": {k: v for k, v in m["data"].items() if k != "timestamp"}}
                                             for m in messages]
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        history = (await http.get(f"/history/{pid}")).json()[pid]
        view = await http.get("/view", params={"filename": "genloom_00001_.png", "subfolder": "", "type": "output"})
    assert history["outputs"] == {"2": {"images": [{"filename": "genloom_00001_.png", "subfolder": "", "type": "output"}]}}
    assert history["status"]["status_str"] == "success" and history["status"]["completed"] is True
    assert [m[0] for m in history["status"]["messages"]] == ["execution_start", "execution_cached", "execution_success"]
    assert view.headers["content-type"] == "image/png" and view.content[:8] == bytes.fromhex("89504e470d0a1a0a")


def test_error_answers_match_the_recording(fake: tuple[ComfyFake, FakeServer]) -> None:
    _, server = fake
    events = trace("08-errors")
    pairs = [(events[i], events[i + 1]) for i in range(len(events) - 1)
             if events[i]["kind"] == "http_request" and events[i + 1]["kind"] == "http_response"]
    checked = 0
    with httpx.Client(base_url=server.url, trust_env=False) as http:
        for req, expected in pairs:
            r = req["request"]
            headers = dict(r.get("headers") or {})
            content = r["body_raw"].encode() if "body_raw" in r else (json.dumps(r["body"]).encode() if "body" in r else None)
            if "Origin" in headers:
                headers["Host"] = "127.0.0.1:8188"  # as recorded: a loopback Host and a foreign Origin
            got = http.request(r["method"], r["path"], content=content, headers=headers)
            assert got.status_code == expected["status"], expected["label"]
            body = expected["body"]
            if "json" in body and expected["status"] == 400:
                want, have = body["json"], got.json()
                assert have["error"]["type"] == want["error"]["type"], expected["label"]
                assert set(have["node_errors"]) == set(want["node_errors"]), expected["label"]
                if want["error"]["type"] != "prompt_outputs_failed_validation" or "traceback" not in json.dumps(want):
                    assert have == want, expected["label"]
            elif "text" in body:
                assert got.text == body["text"], expected["label"]
            elif r.get("label") == "unknown prompt id":
                assert got.json() == body["json"], expected["label"]
            checked += 1
    assert checked >= 15


async def test_targeted_interrupts(fake: tuple[ComfyFake, FakeServer]) -> None:
    state, server = fake
    body = {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
                       "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}},
                       "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "slow", "images": ["2", 0]}}},
            "client_id": "c1"}
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
        pid = (await http.post("/prompt", json=body)).json()["prompt_id"]
        await until(lambda: state.current_node == "2")
        await http.post("/interrupt", json={"prompt_id": "00000000-0000-0000-0000-000000000000"})  # not ours: no-op
        await http.post("/interrupt", json={"prompt_id": pid})
        await until(lambda: pid in state.history)
        entry = (await http.get(f"/history/{pid}")).json()[pid]
    # the blur (no progress steps) finishes; the next node is the one named as interrupted, as recorded
    kind, data = entry["status"]["messages"][-1]
    assert kind == "execution_interrupted" and data["node_type"] == "SaveImage" and data["executed"] == ["2", "1"]
    assert entry["outputs"] == {} and entry["status"] == {**entry["status"], "status_str": "error", "completed": False}
