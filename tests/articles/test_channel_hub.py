"""The channel hub under PostgreSQL's out-of-order commits: a message whose id was taken before another's but
committed after it is still delivered live, once (the scan position waits at the hole)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert

from genloom.channel import store
from genloom.channel.connection import Connection, Delivered
from genloom.channel.hub import ChannelConfig, ChannelHub
from genloom.channel.store import messages_t, rooms_t
from genloom.core.db import utc_now
from genloom.core.principal import Principal
from genloom.runtime import Runtime


async def _outputs(conn: Connection, hub: ChannelHub, n: int) -> list[tuple[str, int]]:
    got: list[tuple[str, int]] = []
    async for out in conn.outputs(hub.catch_up):
        if isinstance(out, Delivered):
            got.append((out.message.room, out.message.seq))
            if len(got) == n:
                return got
    return got


async def test_a_late_commit_below_a_newer_id_is_delivered_once(runtime: Runtime) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite commits ids in order")
    hub = ChannelHub(runtime.db, runtime.signals, ChannelConfig(heartbeat_seconds=30, poll_seconds=0.05))
    await hub.start()
    try:
        conn = Connection(Principal.for_user("u1"), "c1", queue_size=64, heartbeat=30)
        hub.join(conn, "room:x", None)
        hub.join(conn, "room:y", None)
        reader = asyncio.create_task(_outputs(conn, hub, 2))
        await asyncio.sleep(0.2)  # both joins served (seq 0)
        async with runtime.db.engine.connect() as slow:
            txn = await slow.begin()
            # takes the lower id, commits last (the row's seq is the room's first)
            await slow.execute(insert(messages_t).values(room="room:x", seq=1, sender_user="u1", sender_client="a",
                                                         data={"late": True}, created_at=utc_now()))
            await slow.execute(insert(rooms_t).values(room="room:x", last_seq=1))
            fast = await store.publish(runtime.db, runtime.signals, "room:y", {"early": True}, sender_user="u1",
                                       sender_client="b", keep=100)
            assert fast.seq == 1
            await asyncio.sleep(0.3)  # the hub has read the newer id and waits at the hole
            await txn.commit()
        runtime.signals.wake_local(events=True)
        got = await asyncio.wait_for(reader, 10)
        assert sorted(got) == [("room:x", 1), ("room:y", 1)]
        assert got[0] == ("room:y", 1)  # the early commit was not held back by the hole
    finally:
        await hub.close()


async def test_an_idle_hub_does_not_read_at_every_commit_and_wakes_for_a_join(runtime: Runtime) -> None:
    """With no connection in the process, commits (every job's progress is one) cost the hub no read; a join
    brings it back to live delivery at once."""
    from sqlalchemy import event

    hub = ChannelHub(runtime.db, runtime.signals, ChannelConfig(heartbeat_seconds=30, poll_seconds=5.0))
    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "channel_messages" in statement:
            reads.append(statement)

    engines = {runtime.db.engine.sync_engine, runtime.db.reader.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    await hub.start()
    try:
        await asyncio.sleep(0.2)
        before = len(reads)
        for n in range(10):  # commits elsewhere in the process, each one a wake-up
            await store.publish(runtime.db, runtime.signals, "room:other", {"n": n}, sender_user="u2",
                                sender_client="z", keep=100)
            await asyncio.sleep(0.02)
        assert len(reads) - before <= 1  # at most the once-per-poll-interval read
        conn = Connection(Principal.for_user("u1"), "c1", queue_size=64, heartbeat=30)
        hub.join(conn, "room:x", None)
        reader = asyncio.create_task(_outputs(conn, hub, 1))
        await asyncio.sleep(0.2)  # the join is served (seq 0)
        await store.publish(runtime.db, runtime.signals, "room:x", {"hello": 1}, sender_user="u2",
                            sender_client="z", keep=100)
        # delivered by the tail well within the 5 s poll interval: the hub reads at every commit again
        assert await asyncio.wait_for(reader, 2.0) == [("room:x", 1)]
    finally:
        await hub.close()
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
