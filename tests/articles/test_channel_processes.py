"""Delivery between two ``genloom serve`` processes on one database: a message published through one reaches a
subscriber of the other, a resume on either finds the other's history, and a newer connection on one replaces
an older one on the other. Polling is turned down to once a minute, so only the wake-ups (SQLite data_version,
PostgreSQL LISTEN/NOTIFY, Redis pub/sub) can deliver in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from genloom.articles import service
from genloom.runtime import Runtime
from tests.articles.channel_client import join, login, open_channel, recv, send, until
from tests.articles.conftest import Cast
from tests.processes import genloom_env, serve

SLOW_POLL = "60"


@contextlib.contextmanager
def two_servers(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    with serve(env, workers=0, timeout=120) as a, serve(env, workers=0, timeout=120) as b:  # a busy machine starts slowly
        yield a, b


@pytest.mark.slow
@pytest.mark.parametrize("redis", [False, True], ids=["database", "redis"])
async def test_delivery_between_two_serve_processes(runtime: Runtime, cast: Cast, database_url: str,
                                                    tmp_path: Path, redis: bool, request: pytest.FixtureRequest) -> None:
    extra = {"GENLOOM_EVENT_POLL_SECONDS": SLOW_POLL, "GENLOOM_DB_AUTO_MIGRATE": "false"}
    if redis:
        extra |= {"USE_REDIS": "true", "REDIS_URL": request.getfixturevalue("redis_url")}
    async with runtime.db.session() as s:
        room = f"article:{(await service.create_article(s, cast.author, title='t', content='c')).id}"
    env = genloom_env(database_url, tmp_path, **extra)
    with two_servers(env) as (a, b):
        token = await login(a, "author")
        listener = await open_channel(a, "listener", token)
        await join(listener, room)
        talker = await open_channel(b, "talker", token)
        for i in range(3):
            await send(talker, type="publish", room=room, data={"n": i})
            assert (await until(talker, "published"))["seq"] == i + 1
        got = [await until(listener, "message", timeout=10) for _ in range(3)]
        assert [(m["seq"], m["data"]["n"], m["fromClient"]) for m in got] == [(1, 0, "talker"), (2, 1, "talker"),
                                                                             (3, 2, "talker")]
        await listener.close()
        await send(talker, type="publish", room=room, data={"n": 3})
        await until(talker, "published")
        # the listener comes back through the other process and resumes
        listener = await open_channel(b, "listener", token)
        await send(listener, type="resume", room=room, after=2)
        assert (await recv(listener))["seq"] == 4
        assert [(await until(listener, "message"))["seq"] for _ in range(2)] == [3, 4]
        # the same client id on the other process replaces it
        again = await open_channel(a, "listener", token)
        await join(again, room)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(listener.recv(), 10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000
        for ws in (again, talker):
            await ws.close()


