"""Carrying updates and awareness between API processes that have the same document open.

- **Redis** (``USE_REDIS``): every message is published on one channel ``<prefix>:collab`` and applied by the
  other processes at once.
- **PostgreSQL without Redis**: ``NOTIFY genloom_collab`` on the LISTEN connection the process already has
  (:meth:`genloom.jobs.signals.Signals.listen`). An update's notification is sent inside the transaction that
  stores it, so it goes out at commit and only if the rows were stored. A payload holds the update itself when
  it fits (base64, up to ``NOTIFY_LIMIT`` bytes), otherwise a pointer (first and last id of the batch and the
  sending process) and the receiver reads those rows. Awareness is notified on its own (not stored); an
  awareness message too large for one notification stays within its process.
- **SQLite**: a room reads the rows other processes stored (``collab_updates`` after the last id it has) every
  second; awareness (cursors) stays within each process.

Relay messages are hints: the same catch-up read runs whenever a relay may have missed something (the Redis
subscription or the LISTEN connection was lost and re-made), so a dropped message costs latency, not an edit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from pycrdt import merge_updates
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.collab import store
from genloom.core.db import Database
from genloom.jobs.signals import Signals

log = logging.getLogger("genloom.collab")

#: (doc id, kind "u" | "a", update id or 0, payload)
OnMessage = Callable[[str, str, int, bytes], None]
OnReset = Callable[[], None]
NOTIFY_CHANNEL = "genloom_collab"
#: PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; this leaves room for the header
NOTIFY_LIMIT = 7_900


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


class NotifyRelay:
    """PostgreSQL LISTEN/NOTIFY on ``genloom_collab``. Payloads are text: ``u <origin> <doc> <first> <last>
    [<base64 update>]`` (no update: read ids first..last of origin from the log) or ``a <origin> <doc> 0 0
    <base64 awareness>``."""

    def __init__(self, db: Database, signals: Signals, origin: str) -> None:
        self.db, self.signals, self.origin = db, signals, origin
        self._on_message: OnMessage | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(10_000)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sender: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        return self.signals.listening

    async def start(self, on_message: OnMessage, on_reset: OnReset) -> None:
        self._on_message = on_message
        self._sender = asyncio.create_task(self._send(), name="collab-notify-send")
        self.signals.listen(NOTIFY_CHANNEL, self._receive, on_reset)

    def stored_payload(self, doc_id: str, ids: list[int], updates: list[bytes]) -> str:
        head = f"u {self.origin} {doc_id} {ids[0]} {ids[-1]}"
        merged = updates[0] if len(updates) == 1 else merge_updates(*updates)
        # base64 grows 4/3: skip the encoding when the result could not fit anyway
        if len(head) + 1 + (len(merged) + 2) // 3 * 4 <= NOTIFY_LIMIT:
            return f"{head} {base64.b64encode(merged).decode()}"
        return head

    async def notify_stored(self, session: AsyncSession, doc_id: str, ids: list[int], updates: list[bytes]) -> None:
        """Inside the transaction that stores ``updates`` (sent at its commit)."""
        await Signals.notify(session, NOTIFY_CHANNEL, self.stored_payload(doc_id, ids, updates))

    def publish_awareness(self, doc_id: str, payload: bytes) -> None:
        message = f"a {self.origin} {doc_id} 0 0 {base64.b64encode(payload).decode()}"
        if len(message) > NOTIFY_LIMIT:
            log.debug("collab.awareness_too_large doc_id=%s bytes=%d", doc_id, len(payload))
            return
        with contextlib.suppress(asyncio.QueueFull):  # cursors: the next change carries the state again
            self._outbox.put_nowait(message)

    async def _send(self) -> None:
        """Awareness notifications, all those waiting in one statement."""
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 100:
                batch.append(self._outbox.get_nowait())
            calls = ", ".join(f"pg_notify(:c, :p{i})" for i in range(len(batch)))
            try:
                async with self.db.write() as conn:
                    await conn.execute(text(f"SELECT {calls}"),
                                       {"c": NOTIFY_CHANNEL, **{f"p{i}": m for i, m in enumerate(batch)}})
            except Exception as exc:  # noqa: BLE001 - awareness is ephemeral; the next change resends it
                log.debug("collab.notify_failed error=%s", type(exc).__name__)

    def _receive(self, payload: str) -> None:
        kind, origin, doc_id, first, last, *rest = payload.split(" ")
        if origin == self.origin or self._on_message is None:
            return
        if rest:
            self._on_message(doc_id, kind, int(last), base64.b64decode(rest[0]))
        elif kind == "u":
            task = asyncio.get_running_loop().create_task(self._fetch(doc_id, origin, int(first), int(last)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(self, doc_id: str, origin: str, first: int, last: int) -> None:
        assert self._on_message is not None
        try:
            rows = await store.between(self.db, doc_id, first, last, origin=origin)
        except Exception as exc:  # noqa: BLE001 - the catch-up read repairs it
            log.warning("collab.relay_fetch_failed doc_id=%s error=%s", doc_id, type(exc).__name__)
            return
        if not rows:  # compacted meanwhile: the stored state holds them (applying what one has is a no-op)
            with contextlib.suppress(Exception):
                held = await store.load(self.db, doc_id)
                if held.updates:
                    self._on_message(doc_id, "u", last, merge_updates(*held.updates))
            return
        for update_id, update in rows:
            self._on_message(doc_id, "u", update_id, update)

    async def close(self) -> None:
        for task in [*self._tasks, *([self._sender] if self._sender else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
