"""The channel hub: one per API process. It tails ``channel_messages`` by id and offers each message to the
local connections that joined its room; it also owns connection replacement and history pruning.

Delivery between processes uses the wake-ups the job event hub uses (``Signals``: in-process, PostgreSQL
LISTEN/NOTIFY, Redis pub/sub, SQLite ``data_version``), with polling as the fallback; a publish in this
process is also offered locally at once, without waiting for the tail.

Ids: PostgreSQL may make id 11 visible before id 10 (sequence order is not commit order). Within a room that
never happens (seqs are taken under the room row's lock), so the hub delivers every row it reads and lets the
per-room seq drop repeats; only its scan position waits at a hole (``GAP_WAIT_SECONDS``) so a late commit is
still read. A message later than that is not pushed live, and is still in the history a resume reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from genloom.channel import store
from genloom.channel.connection import Connection
from genloom.channel.rooms import replacement_room
from genloom.channel.store import Message
from genloom.core.db import Database
from genloom.jobs.signals import Signals

log = logging.getLogger("genloom.channel")

GAP_WAIT_SECONDS = 2.0
PRUNE_EVERY_SECONDS = 60.0
#: ids kept in the "already offered" set above the scan position
SEEN_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    heartbeat_seconds: float = 15.0
    retention_seconds: float = 3600.0
    retention_messages: int = 1000
    queue_size: int = 256
    poll_seconds: float = 1.0


class ChannelHub:
    def __init__(self, db: Database, signals: Signals, config: ChannelConfig) -> None:
        self.db = db
        self.signals = signals
        self.config = config
        self._rooms: dict[str, set[Connection]] = {}
        self._clients: dict[tuple[str, str], Connection] = {}
        self._scan_from = 0
        self._seen: set[int] = set()
        self._gap_since: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.positioned = False
        #: a graceful shutdown began: every connection, open or new, is told to reconnect elsewhere
        self.draining = False
        self._drained = asyncio.Event()  # set when the last connection is gone while draining
        self._connected = asyncio.Event()  # a connection or a join: an idle hub reads at every commit again

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        with contextlib.suppress(Exception):  # the database may be down at start: _run keeps trying
            self._scan_from = await store.newest_id(self.db)
            self.positioned = True
        self._tasks = [asyncio.create_task(self._run(), name="genloom-channel-hub"),
                       asyncio.create_task(self._prune_forever(), name="genloom-channel-prune")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for conn in list(self._clients.values()):
            conn.end("closed")

    async def drain(self, budget: float) -> None:
        """Graceful shutdown (a :class:`~genloom.core.shutdown.Shutdown` hook): end every connection with reason
        ``restart`` (the socket says so in a last frame and closes with 1012; the client resumes each room by seq
        on another server) and wait up to ``budget`` seconds until they are gone."""
        self.draining = True
        for conn in list(self._clients.values()):
            conn.end("restart")
        if self._clients:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), budget)

    @property
    def connection_count(self) -> int:
        return len(self._clients)

    # -- connections -----------------------------------------------------------------------------------
    async def connect(self, conn: Connection) -> None:
        """Register ``conn``; an older connection with the same user and client id closes (here or in any
        process), with reason ``replaced``."""
        old = self._clients.get(conn.key)
        self._clients[conn.key] = conn
        self._connected.set()
        if old is not None and old is not conn:
            self._forget(old)
            old.end("replaced")
        announcement = await store.publish(self.db, self.signals, replacement_room(*conn.key),
                                           {"connection": conn.id}, sender_user=conn.principal.user_id,
                                           sender_client=conn.client_id, keep=1)
        conn.announced_seq = announcement.seq
        if self.draining:
            conn.end("restart")  # accepted on a connection opened before the server stopped listening

    def disconnect(self, conn: Connection) -> None:
        if self._clients.get(conn.key) is conn:
            del self._clients[conn.key]
        self._forget(conn)
        if self.draining and not self._clients:
            self._drained.set()

    def _forget(self, conn: Connection) -> None:
        for room in conn.rooms:
            group = self._rooms.get(room)
            if group is not None:
                group.discard(conn)
                if not group:
                    del self._rooms[room]

    def join(self, conn: Connection, room: str, after: int | None) -> None:
        """Follow ``room`` (authorize first); ``after``: also send the history after that seq."""
        self._rooms.setdefault(room, set()).add(conn)
        self._connected.set()
        if not conn.queue_join(room, after):
            self._overflow(conn)

    def leave(self, conn: Connection, room: str) -> None:
        conn.leave(room)
        group = self._rooms.get(room)
        if group is not None:
            group.discard(conn)
            if not group:
                del self._rooms[room]

    async def catch_up(self, room: str, after: int | None) -> tuple[int, list[Message], bool]:
        """The room's current seq and, when ``after`` is given, its kept history after it."""
        seq = await store.last_seq(self.db, room)
        if after is None or after >= seq:
            return seq, [], after is None or after <= seq
        history, complete = await store.history(self.db, room, after=max(0, after), upto=seq)
        return seq, history, complete

    async def publish(self, conn: Connection, room: str, data: Any) -> Message:
        """Store and deliver (authorize first). Local connections get it at once; others via the tail."""
        message = await store.publish(self.db, self.signals, room, data, sender_user=conn.principal.user_id,
                                      sender_client=conn.client_id, keep=self.config.retention_messages)
        self._dispatch([message])
        return message

    def offer_to_user(self, user_id: str, item: Any) -> None:
        """Queue ``item`` (a job event) for every local connection of ``user_id`` that joined its user room."""
        for conn in list(self._rooms.get(f"user:{user_id}", ())):
            if not conn.offer(item):
                self._overflow(conn)

    # -- delivery --------------------------------------------------------------------------------------
    def _overflow(self, conn: Connection) -> None:
        log.warning("channel.connection_dropped reason=too_slow queued=%d", conn.queue.qsize())
        self.disconnect(conn)
        conn.end("too_slow")

    def _dispatch(self, messages: list[Message]) -> None:
        for message in messages:
            if message.id in self._seen:
                continue  # offered already (published here, or read before a hole)
            if len(self._seen) < SEEN_LIMIT:
                self._seen.add(message.id)
            if message.room.startswith("_client:"):
                self._replace(message)
                continue
            for conn in list(self._rooms.get(message.room, ())):
                if not conn.offer(message):
                    self._overflow(conn)

    def _replace(self, message: Message) -> None:
        conn = self._clients.get((message.sender_user or "", message.sender_client or ""))
        if conn is not None and conn.announced_seq and conn.announced_seq < message.seq:
            self.disconnect(conn)
            conn.end("replaced")

    async def _run(self) -> None:
        seen_wake = self.signals.events_seq
        failures = 0
        while True:
            try:
                if not self.positioned:
                    self._scan_from = await store.newest_id(self.db)
                    self.positioned = True
                more = await self._step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the hub must outlive database outages
                failures += 1
                log.warning("channel.tail_failed error=%s", type(exc).__name__)
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))
                continue
            if more:
                continue
            if not (self._clients or self._rooms) and self._gap_since is None:
                # Nobody to deliver to: no read per commit of the process (every job's progress is one), only
                # once per poll interval, so the position stays current for the next connection.
                self._connected.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._connected.wait(), self.config.poll_seconds)
                seen_wake = self.signals.events_seq
                continue
            timeout = self.config.poll_seconds if self._gap_since is None else 0.05
            seen_wake = await self.signals.wait_events_since(seen_wake, timeout)

    async def _step(self) -> bool:
        rows = await store.tail(self.db, after_id=self._scan_from)
        self._dispatch(rows)
        hole = False
        for row in rows:
            if row.id != self._scan_from + 1:
                hole = True
                break
            self._scan_from = row.id
        if hole:
            now = time.monotonic()
            if self._gap_since is None:
                self._gap_since = now
            if self.db.is_sqlite or now - self._gap_since >= GAP_WAIT_SECONDS:
                # ids commit in order on SQLite (a hole is a pruned row); on PostgreSQL a rolled-back insert
                self._scan_from = rows[-1].id
                self._gap_since = None
        else:
            self._gap_since = None
        self._seen = {i for i in self._seen if i > self._scan_from} if self._seen else self._seen
        return len(rows) == store.PAGE and not hole

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_SECONDS)
            try:
                removed = await store.prune(self.db, older_than_seconds=self.config.retention_seconds)
                if removed:
                    log.info("channel.pruned messages=%d", removed)
            except Exception as exc:  # noqa: BLE001 - pruning is housekeeping; try again next round
                log.warning("channel.prune_failed error=%s", type(exc).__name__)
