"""The open documents of this process: opening a room (from the stored log, or seeded from the article's
latest version), serving a connection, saving idle documents as article versions, compaction, the relay
between processes, REST saves applied to open documents, and presence.

The collab feature knows articles only through :class:`Backend` (load, access, save), which the GenFlow
surface implements with the articles service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from genloom.collab import document, store
from genloom.collab.relay import NotifyRelay, RedisRelay
from genloom.collab.room import Peer, Room, Socket
from genloom.core.db import Database, utc_now
from genloom.core.errors import GenloomError
from genloom.core.principal import Principal
from genloom.core.settings import Settings
from genloom.jobs.signals import Signals

log = logging.getLogger("genloom.collab")
Access = Literal["write", "read"] | None
#: how often a room checks for idle saves (and, without a live relay, for other processes' updates)
TICK_SECONDS = 0.5
CATCH_UP_SECONDS = 1.0
#: a catch-up read starts this many ids below the newest one seen (ids commit out of order on PostgreSQL)
CATCH_UP_LOOKBACK = 1000


class Backend(Protocol):
    async def load(self, doc_id: str) -> tuple[str, str, int] | None:
        """(title, content, version) of the live article, or None."""

    async def access(self, principal: Principal, doc_id: str) -> Access:
        """What ``principal`` may do: "write", "read" or nothing."""

    async def save(self, doc_id: str, principal: Principal, title: str | None, content: str) -> int:
        """Save the text as a new version signed by ``principal``; the article's version afterwards."""


class CollabManager:
    def __init__(self, db: Database, settings: Settings, backend: Backend, signals: Signals | None = None) -> None:
        self.db, self.settings, self.backend, self.signals = db, settings, backend, signals
        self.origin = os.urandom(8).hex()
        self.rooms: dict[str, Room] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self.relay: RedisRelay | None = None
        self.notify: NotifyRelay | None = None

    async def start(self) -> None:
        if self.settings.use_redis:
            self.relay = RedisRelay(self.settings.redis_url, self.settings.redis_prefix, self.origin)
            await self.relay.start(self._on_relay)
        elif self.signals is not None and self.db.dialect == "postgresql":
            self.notify = NotifyRelay(self.db, self.signals, self.origin)
            await self.notify.start(self._on_relay, self._on_relay_reset)

    async def close(self) -> None:
        for doc_id in list(self.rooms):
            room = self.rooms.pop(doc_id)
            await room.stop()
            with contextlib.suppress(Exception):
                await self._save(room)
        if self.relay is not None:
            await self.relay.close()
        if self.notify is not None:
            await self.notify.close()

    # -- relay ---------------------------------------------------------------------------------------------
    @property
    def relay_live(self) -> bool:
        """A relay carries other processes' updates as they are stored (else: the catch-up read every second)."""
        return self.relay is not None or (self.notify is not None and self.notify.live)

    def in_transaction(self, doc_id: str, updates: list[bytes]) -> store.InTransaction | None:
        """What to run inside the transaction that stores ``updates`` (the NOTIFY relay's notification)."""
        notify = self.notify
        if notify is None:
            return None
        return lambda session, ids: notify.notify_stored(session, doc_id, ids, updates)

    def relay_update(self, doc_id: str, update_id: int, update: bytes) -> None:
        if self.relay is not None:
            self.relay.publish(doc_id, "u", update_id, update)

    def relay_awareness(self, doc_id: str, payload: bytes) -> None:
        if self.relay is not None:
            self.relay.publish(doc_id, "a", 0, payload)
        elif self.notify is not None:
            self.notify.publish_awareness(doc_id, payload)

    def _on_relay_reset(self) -> None:
        for room in self.rooms.values():
            room.catch_up = True

    def _on_relay(self, doc_id: str, kind: str, update_id: int, payload: bytes) -> None:
        room = self.rooms.get(doc_id)
        if room is None or room.closed:
            return
        if kind == "u":
            room.receive_remote(update_id, payload)
        elif kind == "a":
            room.receive_awareness(None, payload, relay=False)

    # -- rooms ---------------------------------------------------------------------------------------------
    async def room(self, doc_id: str) -> Room:
        room = self.rooms.get(doc_id)
        if room is not None and not room.closed:
            return room
        lock = self._opening.setdefault(doc_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(doc_id)
            if room is None or room.closed:
                room = await self._open(doc_id)
                self.rooms[doc_id] = room
        return room

    async def _open(self, doc_id: str) -> Room:
        room = Room(self, doc_id)
        stored = await store.load(self.db, doc_id)
        for update in stored.updates:
            room.apply(update)
        room.last_id, room.rows = stored.last_id, stored.rows
        article = await self.backend.load(doc_id)
        if stored.empty and article is not None:
            title, content, version = article
            await store.ensure_document(self.db, doc_id, version)
            seed = document.seed_update(doc_id, version, title, content)
            room.apply(seed)
            room.last_id = max([room.last_id, *await store.append(self.db, doc_id, [seed], self.origin)])
            room.rows += 1
        elif article is not None and article[2] > stored.synced_version:
            # saved without the editor (REST while no room was open, restore): merge it in as edits
            title, content, version = article
            changed = room.edit(lambda: document.apply_save(
                room.doc, base_title=document.title_of(room.doc), base_content=document.text_of(room.doc),
                title=title, content=content))
            if changed is not None:
                room.last_id = max([room.last_id, *await store.append(self.db, doc_id, [changed], self.origin)])
            await store.set_synced_version(self.db, doc_id, version)
        room.saved_edits = room.edits = 0
        # relayed updates that came while the room was opening found no room: its first tick reads them
        room.catch_up = True
        room.start(lambda: self._tick(room))
        return room

    async def serve(self, socket: Socket, receive: AsyncIterator[bytes], principal: Principal, doc_id: str, *,
                    writable: bool) -> None:
        """Run one connection until it closes."""
        room = await self.room(doc_id)
        peer = Peer(socket, principal, writable=writable, queue_size=self.settings.collab_queue_size)
        sender = asyncio.create_task(peer.run_sender())
        room.join(peer)

        async def read() -> None:
            async for frame in receive:
                await room.handle(peer, frame)

        # whichever ends first: the client leaves, the socket fails, or the client fell too far behind
        tasks = [asyncio.create_task(read()), sender, asyncio.create_task(peer.overflowed.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            room.leave(peer)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if peer.dropped:
            await peer.close_too_slow()

    # -- saving --------------------------------------------------------------------------------------------
    async def _tick(self, room: Room) -> None:
        last_catch_up = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            if room.catch_up or (not self.relay_live and now - last_catch_up >= CATCH_UP_SECONDS):
                last_catch_up, room.catch_up = now, False
                with contextlib.suppress(Exception):
                    for update_id, update in await store.after(self.db, room.doc_id,
                                                               max(0, room.last_id - CATCH_UP_LOOKBACK),
                                                               skip_origin=self.origin):
                        room.receive_remote(update_id, update)
            writers = any(p.writable for p in room.peers)
            unsaved = room.edits > max(room.saved_edits, room.refused_edits)
            if unsaved and writers and now - room.last_edit >= self.settings.collab_idle_seconds:
                await self._save_logged(room)
            elif unsaved and not writers and room.left_at is not None and \
                    now - room.left_at >= self.settings.collab_leave_seconds:
                await self._save_logged(room)
            if room.rows >= self.settings.collab_compact_updates:
                await self._compact(room)
            if not room.peers and room.edits <= max(room.saved_edits, room.refused_edits) \
                    and room.left_at is not None and now - room.left_at >= self.settings.collab_leave_seconds:
                await self._unload(room)
                return

    async def _save_logged(self, room: Room) -> None:
        edits = room.edits
        try:
            await self._save(room)
        except GenloomError as exc:
            if exc.status >= 500:
                self._save_failed(room, exc)
                return
            # Refused for what the text is (over the article size limit): trying again every tick cannot help.
            # The edits stay in the update log (nothing is lost); a version is made once edits bring it back
            # under the limit, and the editors see why in presence.
            if room.save_refused is None or room.save_refused["code"] != exc.code:
                log.warning("collab.snapshot_refused doc_id=%s code=%s", room.doc_id, exc.code)
            room.refused_edits = edits
            room.save_refused = {"code": exc.code, "message": exc.message, "at": utc_now().isoformat().replace("+00:00", "Z")}
        except Exception as exc:  # noqa: BLE001 - the edits stay in the log; the next tick tries again
            self._save_failed(room, exc)
        else:
            room.save_refused = None

    @staticmethod
    def _save_failed(room: Room, exc: Exception) -> None:
        log.warning("collab.snapshot_failed doc_id=%s error=%s", room.doc_id, type(exc).__name__)
        room.last_edit = time.monotonic()

    async def _save(self, room: Room) -> int | None:
        """Save the document's text as an article version, signed by the most recent editor who may write."""
        edits = room.edits
        if edits <= room.saved_edits:
            return None
        await room.flush()
        title = document.title_of(room.doc).strip() or None
        content = document.text_of(room.doc)
        for principal in reversed(list(room.editors.values())):
            if await self.backend.access(principal, room.doc_id) == "write":
                version = await self.backend.save(room.doc_id, principal, title, content)
                await store.set_synced_version(self.db, room.doc_id, version)
                room.saved_edits = edits
                log.info("collab.snapshot doc_id=%s version=%d", room.doc_id, version)
                return version
        room.saved_edits = edits  # edits came only from other processes: they save them
        return None

    async def _compact(self, room: Room) -> None:
        await room.flush()
        with contextlib.suppress(Exception):
            await store.compact(self.db, room.doc_id)
            room.rows = 0

    async def _unload(self, room: Room) -> None:
        if self.rooms.get(room.doc_id) is room:
            del self.rooms[room.doc_id]
        room.closed = True
        await room.flush()
        await self._compact(room)
        for task in room.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    # -- REST and presence ---------------------------------------------------------------------------------
    async def article_saved(self, doc_id: str, *, base_title: str, base_content: str, title: str, content: str,
                            version: int) -> None:
        """A save through REST: applied to the open document (here or loaded from the log) as edits."""
        room = self.rooms.get(doc_id)
        if room is None or room.closed:
            if (await store.load(self.db, doc_id)).empty:
                return  # never opened for editing: the next open seeds from this version
            room = await self.room(doc_id)
        changed = room.edit(lambda: document.apply_save(room.doc, base_title=base_title, base_content=base_content,
                                                        title=title, content=content))
        if changed is not None:
            room.queue_update(None, changed)
            await room.flush()
        if document.text_of(room.doc) == content:
            room.saved_edits = room.edits
            room.save_refused = None
        await store.set_synced_version(self.db, doc_id, version)

    def presence(self, doc_id: str) -> dict[str, Any]:
        room = self.rooms.get(doc_id)
        if room is None:
            return {"editors": [], "states": [], "saveError": None}
        return {"editors": room.editors_connected(), "states": room.presence(), "saveError": room.save_refused}
