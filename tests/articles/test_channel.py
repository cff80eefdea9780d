"""The realtime channel over a real socket: auth, join, publish, rooms refused, heartbeat, resume after a
dropped connection, replacement, silent and slow clients, job events in the user room."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from genloom.articles import service
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.articles.channel_client import join, login, open_channel, recv, send, until
from tests.articles.conftest import Cast
from tests.conftest import settings_for

HEARTBEAT = 0.6
MESSAGES = 200


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, channel_heartbeat_seconds=HEARTBEAT, channel_queue_size=16,
                        secret_key="test-secret-key-for-channel-tests")


async def _article(runtime: Runtime, cast: Cast, status: str = "draft") -> str:
    async with runtime.db.session() as s:
        return (await service.create_article(s, cast.author, title="room", content="c", status=status)).id


async def _closed_with(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(10_000):
            await asyncio.wait_for(ws.recv(), 10)
    return info.value.rcvd.code if info.value.rcvd else None


async def test_auth_failures_close_before_any_message(live_server: Any, cast: Cast) -> None:
    async with live_server() as base:
        for token in (None, "not-a-jwt"):
            ws = await open_channel(base, "device-1", token)
            assert await _closed_with(ws) == 4401
        ws = await open_channel(base, "x" * 65, await login(base, "author"))
        assert await _closed_with(ws) == 4400


async def test_join_publish_and_refused_rooms(live_server: Any, runtime: Runtime, cast: Cast) -> None:
    draft, published = await _article(runtime, cast), await _article(runtime, cast, "published")
    async with live_server() as base:
        author, other = await login(base, "author"), await login(base, "other")
        a, b, o = (await open_channel(base, "author-laptop", author), await open_channel(base, "author-phone", author),
                   await open_channel(base, "other-1", other))
        room = f"article:{draft}"
        assert (await join(a, room))["seq"] == 0
        await join(b, room)
        await send(a, type="publish", room=room, data={"cursor": 3, "text": "你好"})
        got = await recv(b)
        assert (got["type"], got["room"], got["seq"], got["data"]) == ("message", room, 1, {"cursor": 3, "text": "你好"})
        assert got["from"] == cast.author.user_id and got["fromClient"] == "author-laptop" and got["at"].endswith("Z")
        first = await recv(a)
        assert first["type"] in ("published", "message")
        # refused: another user's draft, someone else's user room, publishing where you only read, nonsense
        for frame, code in (({"type": "join", "room": room}, "room_forbidden"),
                            ({"type": "join", "room": f"user:{cast.author.user_id}"}, "room_forbidden"),
                            ({"type": "publish", "room": f"article:{published}", "data": 1}, "room_forbidden"),
                            ({"type": "join", "room": "lobby"}, "invalid_room"),
                            ({"type": "join", "room": "_client:x:y"}, "invalid_room"),
                            ({"type": "resume", "room": room, "after": -1}, "invalid_after"),
                            ({"type": "shout"}, "unknown_type")):
            await send(o, **frame)
            error = await recv(o)
            assert (error["type"], error["code"]) == ("error", code), (frame, error)
        await o.send("{not json")
        assert (await recv(o))["code"] == "invalid_json"
        await send(o, type="publish", room=f"user:{cast.other.user_id}", data="x" * 70_000)
        assert (await recv(o))["code"] == "message_too_large"
        await join(o, f"article:{published}")  # readers of a published article may listen
        await join(o, f"user:{cast.other.user_id}")
        await send(o, type="ping")
        assert (await recv(o))["type"] == "pong"
        await send(o, type="leave", room=f"article:{published}")
        assert await recv(o) == {"type": "left", "room": f"article:{published}"}
        for ws in (a, b, o):
            await ws.close()


async def test_resume_after_a_dropped_connection(live_server: Any, runtime: Runtime, cast: Cast) -> None:
    room = f"article:{await _article(runtime, cast)}"
    async with live_server() as base:
        token = await login(base, "author")
        publisher = await open_channel(base, "publisher", token)
        reader = await open_channel(base, "reader", token)
        await join(reader, room)
        for i in range(3):
            await send(publisher, type="publish", room=room, data=i)
            await until(publisher, "published")
        seen = [(await until(reader, "message"))["seq"] for _ in range(3)]
        assert seen == [1, 2, 3]
        await reader.close()
        for i in range(3, 8):
            await send(publisher, type="publish", room=room, data=i)
            await until(publisher, "published")
        reader = await open_channel(base, "reader", token)
        await send(reader, type="resume", room=room, after=3)
        joined = await recv(reader)
        assert (joined["type"], joined["seq"], joined["recovered"]) == ("joined", 8, True)
        await send(publisher, type="publish", room=room, data=8)
        got = [await until(reader, "message") for _ in range(6)]
        assert [m["seq"] for m in got] == [4, 5, 6, 7, 8, 9] and [m["data"] for m in got] == [3, 4, 5, 6, 7, 8]
        with pytest.raises(TimeoutError):
            await until(reader, "message", timeout=0.5)  # nothing repeated
        for ws in (publisher, reader):
            await ws.close()


async def test_a_second_connection_replaces_the_first(live_server: Any, cast: Cast) -> None:
    async with live_server() as base:
        token = await login(base, "author")
        first = await open_channel(base, "same-device", token)
        await join(first, f"user:{cast.author.user_id}")
        second = await open_channel(base, "same-device", token)
        assert await _closed_with(first) == 4000
        await join(second, f"user:{cast.author.user_id}")
        other_user = await open_channel(base, "same-device", await login(base, "other"))  # ids are per user
        await send(second, type="ping")
        assert (await recv(second))["type"] == "pong"
        for ws in (second, other_user):
            await ws.close()


async def test_heartbeats_and_silent_clients_dropped(live_server: Any, cast: Cast) -> None:
    async with live_server() as base:
        token = await login(base, "author")
        talker, silent = await open_channel(base, "talker", token), await open_channel(base, "silent", token)
        beats = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HEARTBEAT * 5
        while loop.time() < deadline:
            await send(talker, type="ping")
            frame = json.loads(await asyncio.wait_for(talker.recv(), 5))
            beats += frame["type"] == "heartbeat"
            await asyncio.sleep(HEARTBEAT / 3)
        assert beats >= 2
        assert await _closed_with(silent) == 4408
        await send(talker, type="ping")
        assert (await until(talker, "pong"))["type"] == "pong"
        await talker.close()


def _raw_channel(base: str, client_id: str, token: str) -> socket.socket:
    """A WebSocket client that never reads: a raw socket with a tiny receive buffer, handshake done by hand."""
    host, port = base.removeprefix("http://").split(":")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET /ws/{client_id}?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


def _raw_send(raw: socket.socket, **frame: Any) -> None:
    raw.sendall(Frame(Opcode.TEXT, json.dumps(frame).encode()).serialize(mask=True, extensions=[]))


async def test_a_slow_consumer_is_dropped_without_stalling_others(live_server: Any, runtime: Runtime,
                                                                  cast: Cast) -> None:
    from genloom.surfaces.genflow.channel import hub_of

    room = f"article:{await _article(runtime, cast)}"
    async with live_server() as base:
        token = await login(base, "author")
        slow = await asyncio.to_thread(_raw_channel, base, "slow", token)
        _raw_send(slow, type="join", room=room)
        fast = await open_channel(base, "fast", token, max_size=None)
        await join(fast, room)
        publisher = await open_channel(base, "publisher", token)
        blob = "x" * 60_000
        received = 0
        hub = hub_of(runtime)
        for i in range(MESSAGES):
            await send(publisher, type="publish", room=room, data={"i": i, "blob": blob})
            await until(publisher, "published")
            _raw_send(slow, type="ping")  # it talks, it just does not read
            await send(fast, type="ping")
            while True:  # the fast reader keeps up
                try:
                    frame = json.loads(await asyncio.wait_for(fast.recv(), 0.001))
                except TimeoutError:
                    break
                received += frame["type"] == "message"
            if not any(client == "slow" for _user, client in hub._clients):
                break
        assert not any(client == "slow" for _user, client in hub._clients), "the slow client is still served"
        while received < i + 1:
            frame = await recv(fast, skip=("heartbeat", "pong"))
            received += frame["type"] == "message"
        assert received == i + 1 < MESSAGES
        await send(fast, type="ping")
        assert (await until(fast, "pong"))["type"] == "pong"
        await fast.close()
        # the slow client finally reads: what was in flight, then the end of the stream
        slow.settimeout(10)
        tail = b""
        while chunk := await asyncio.to_thread(slow.recv, 1 << 20):
            tail += chunk
        slow.close()
        assert tail.count(b'"type": "message"') < i + 1
        await publisher.close()


async def test_job_events_arrive_in_the_user_room(live_server: Any, runtime: Runtime, cast: Cast) -> None:
    import httpx

    from tests.conftest import drain

    async with live_server() as base:
        token = await login(base, "author")
        ws = await open_channel(base, "device", token)
        await join(ws, f"user:{cast.author.user_id}")
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            r = await http.post("/v1/jobs", json={"kind": "noop", "input": {}})
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
        await drain(runtime)
        events: list[str] = []
        while not events or events[-1] != "succeeded":
            frame = await until(ws, "job")
            assert frame["jobId"] == job_id and isinstance(frame["id"], int)
            events.append(frame["event"])
        assert events[0] == "queued"
        await ws.close()
