"""Carrying updates and awareness between API processes that have the same document open.

With Redis (``USE_REDIS``) every message is published on one channel ``<prefix>:collab`` and applied by the
other processes at once. Without Redis, processes still converge through the database: a room whose document
may be open elsewhere reads the rows other processes stored (``collab_updates`` after the last id it has) every
second; awareness (cursors) then stays within one process. The Redis messages are hints too: the same
catch-up read repairs anything a dropped message missed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("genloom.collab")

#: (doc id, kind "u" | "a", update id or 0, payload)
OnMessage = Callable[[str, str, int, bytes], None]


class RedisRelay:
    def __init__(self, url: str, prefix: str, origin: str) -> None:
        self.url, self.channel, self.origin = url, f"{prefix}:collab", origin
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(10_000)
        self._sender: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self, on_message: OnMessage) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.url, socket_connect_timeout=5)
        self._task = asyncio.create_task(self._listen(on_message), name="collab-relay-listen")
        self._sender = asyncio.create_task(self._send(), name="collab-relay-send")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 5)

    def publish(self, doc_id: str, kind: str, update_id: int, payload: bytes) -> None:
        message = json.dumps({"o": self.origin, "d": doc_id, "k": kind, "i": update_id,
                              "p": base64.b64encode(payload).decode()})
        with contextlib.suppress(asyncio.QueueFull):  # a lost hint is repaired by the catch-up read
            self._outbox.put_nowait(message)

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self._redis.publish(self.channel, message)
            except Exception as exc:  # noqa: BLE001
                log.debug("collab.relay_publish_failed error=%s", type(exc).__name__)

    async def _listen(self, on_message: OnMessage) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                delay = 0.1
                while True:
                    item = await pubsub.get_message(timeout=5.0)
                    if item is None or item.get("type") != "message":
                        continue
                    body = json.loads(item["data"])
                    if body.get("o") == self.origin:
                        continue
                    on_message(str(body["d"]), str(body["k"]), int(body.get("i") or 0),
                               base64.b64decode(body["p"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep relaying whatever Redis does
                log.warning("collab.relay_lost error=%s retry_in=%.1fs", type(exc).__name__, delay)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        for task in (self._task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
