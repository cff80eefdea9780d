"""One open document in this process: its Yjs doc, the editors connected here, and the y-protocols messages
between them (sync step 1/2, update, awareness), persistence first.

An update a client sends is applied to the document, then stored by the room's writer (all updates waiting
are written in one statement), and only then sent to the other editors and relayed to other processes: an edit
anyone has seen is an edit on disk. Readers' document updates are refused (dropped, counted); their awareness
(cursors, presence) passes. Each connection has one bounded queue: a client that cannot keep up is closed
(it reconnects and resyncs), never allowed to hold the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from pycrdt import (
    Awareness,
    Decoder,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    merge_updates,
)
from pycrdt._sync import create_sync_step1_message, create_sync_step2_message

from genloom.collab import document, store
from genloom.core.principal import Principal

if TYPE_CHECKING:
    from genloom.collab.manager import CollabManager

log = logging.getLogger("genloom.collab")
#: close code for a connection that fell too far behind (y-websocket reconnects and resyncs)
CLOSE_TOO_SLOW = 1013
#: how long the 1013 close may wait for a slow client to take it (then the connection is just dropped)
SLOW_CLOSE_SECONDS = 30.0
EMPTY_UPDATE = b"\x00\x00"


class Socket(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Peer:
    """One connected client: who it is, whether it may write, and its outgoing queue."""

    def __init__(self, socket: Socket, principal: Principal, *, writable: bool, queue_size: int) -> None:
        self.socket = socket
        self.principal = principal
        self.writable = writable
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        #: awareness client ids this connection has announced (removed when it leaves)
        self.client_ids: set[int] = set()
        self.refused = 0
        self.dropped = False
        #: set when the queue overflowed: the connection is to be closed with 1013
        self.overflowed = asyncio.Event()

    def send(self, frame: bytes) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("collab.slow_client_dropped user_id=%s", self.principal.user_id)
            self.overflowed.set()

    async def run_sender(self) -> None:
        while True:
            await self.socket.send_bytes(await self.queue.get())

    async def close_too_slow(self) -> None:
        """Close with 1013; the close frame goes after what the socket holds already, so it waits (a bounded
        while) for the client to read that."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(CLOSE_TOO_SLOW, "too slow"), SLOW_CLOSE_SECONDS)


class Room:
    def __init__(self, manager: CollabManager, doc_id: str) -> None:
        self.manager = manager
        self.doc_id = doc_id
        self.doc = document.new_doc()
        self.awareness = Awareness(self.doc)
        self.awareness.set_local_state(None)  # the server is no participant
        self.awareness.observe(self._on_awareness)
        self.peers: set[Peer] = set()
        self._pending: list[tuple[Peer | None, bytes]] = []
        self._wake = asyncio.Event()
        self._capture: list[bytes] | None = None
        self._awareness_origin: Peer | None = None
        self.doc.observe(self._on_transaction)
        #: the highest update id this process stored or applied (relay catch-up starts below it)
        self.last_id = 0
        self.rows = 0
        #: edits not yet saved as an article version, and who made them (the last editor signs the version)
        self.edits = 0
        self.saved_edits = 0
        #: the edit count when saving was refused for good (the text is over the article size limit) and why:
        #: retried only after more edits, shown in presence; the edits themselves stay in the update log
        self.refused_edits = 0
        self.save_refused: dict[str, str] | None = None
        self.last_edit = time.monotonic()
        self.left_at: float | None = None
        self.editors: dict[str, Principal] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        #: read other processes' updates from the log at the next tick (a relay may have missed some)
        self.catch_up = False

    # -- document ----------------------------------------------------------------------------------------
    def _on_transaction(self, event: TransactionEvent) -> None:
        if self._capture is not None:
            self._capture.append(event.update)

    def apply(self, update: bytes) -> bytes | None:
        """Apply ``update``; what it changed (None when the document had it all already)."""
        self._capture = []
        try:
            self.doc.apply_update(update)
            changed = self._capture
        finally:
            self._capture = None
        changed = [u for u in changed if u and u != EMPTY_UPDATE]
        if not changed:
            return None
        return changed[0] if len(changed) == 1 else merge_updates(*changed)

    def edit(self, change: Callable[[], None]) -> bytes | None:
        """Run a local change (a REST save) inside the capture; what it changed."""
        self._capture = []
        try:
            change()
            changed = self._capture
        finally:
            self._capture = None
        changed = [u for u in changed if u and u != EMPTY_UPDATE]
        return (changed[0] if len(changed) == 1 else merge_updates(*changed)) if changed else None

    def queue_update(self, origin: Peer | None, update: bytes) -> None:
        """Store, then show to others and relay (the writer task does it in order)."""
        self._pending.append((origin, update))
        self._wake.set()
        self.edits += 1
        self.last_edit = time.monotonic()
        if origin is not None and origin.principal.user_id:
            self.editors.pop(origin.principal.user_id, None)
            self.editors[origin.principal.user_id] = origin.principal  # most recent last

    async def run_writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        delay = 0.05
        while True:
            try:
                updates = [u for _, u in batch]
                ids = await store.append(self.manager.db, self.doc_id, updates, self.manager.origin,
                                         in_transaction=self.manager.in_transaction(self.doc_id, updates))
                break
            except Exception as exc:  # noqa: BLE001 - keep the edits and try again; nothing is shown meanwhile
                log.warning("collab.store_failed doc_id=%s error=%s retry_in=%.2fs", self.doc_id,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.rows += len(ids)
        self.last_id = max(self.last_id, ids[-1])
        # One frame per batch, encoded once for every editor: when updates queue up (many typing, or the
        # writer held up) each editor's socket gets one write instead of one per update. An editor whose own
        # update is in the merged one gets it back; applying what a Yjs document has already changes nothing.
        origins = {origin for origin, _ in batch}
        merged = updates[0] if len(updates) == 1 else merge_updates(*updates)
        frame = create_update_message(merged)
        only = next(iter(origins)) if len(origins) == 1 else None
        for peer in self.peers:
            if peer is not only:
                peer.send(frame)
        self.manager.relay_update(self.doc_id, ids[-1], merged)

    def receive_remote(self, update_id: int, update: bytes) -> None:
        """An update another process stored: apply, and show what was new to the editors here."""
        self.last_id = max(self.last_id, update_id)
        changed = self.apply(update)
        if changed is None:
            return
        frame = create_update_message(changed)
        for peer in self.peers:
            peer.send(frame)
        self.last_edit = time.monotonic()

    # -- awareness ---------------------------------------------------------------------------------------
    def _on_awareness(self, topic: str, changes: tuple[dict[str, Any], Any]) -> None:
        if topic != "update":
            return
        summary, origin = changes
        if isinstance(origin, Peer):
            origin.client_ids.update(summary.get("added", []) + summary.get("updated", []))
            origin.client_ids.difference_update(summary.get("removed", []))

    def receive_awareness(self, origin: Peer | None, payload: bytes, *, relay: bool = True) -> None:
        self.awareness.apply_awareness_update(payload, origin if origin is not None else "relay")
        frame = create_awareness_message(payload)
        for peer in self.peers:
            if peer is not origin:
                peer.send(frame)
        if relay:
            self.manager.relay_awareness(self.doc_id, payload)

    def awareness_frame(self) -> bytes | None:
        ids = list(self.awareness.states)
        return create_awareness_message(self.awareness.encode_awareness_update(ids)) if ids else None

    # -- connections -------------------------------------------------------------------------------------
    def join(self, peer: Peer) -> None:
        self.peers.add(peer)
        self.left_at = None
        peer.send(create_sync_step1_message(self.doc.get_state()))
        frame = self.awareness_frame()
        if frame is not None:
            peer.send(frame)

    def leave(self, peer: Peer) -> None:
        self.peers.discard(peer)
        if peer.client_ids:
            gone = [i for i in peer.client_ids if i in self.awareness.states]
            self.awareness.remove_awareness_states(gone, "leave")
            if gone:
                payload = self.awareness.encode_awareness_update(gone)
                self.receive_awareness(None, payload)
        if not any(p.writable for p in self.peers):
            self.left_at = time.monotonic()

    async def handle(self, peer: Peer, frame: bytes) -> None:
        """One binary frame from ``peer`` (y-websocket sends one message per frame)."""
        decoder = Decoder(frame)
        kind = decoder.read_var_uint()
        if kind == YMessageType.SYNC:
            sub = decoder.read_var_uint()
            payload = decoder.read_message()
            if payload is None:
                return
            if sub == YSyncMessageType.SYNC_STEP1:
                peer.send(create_sync_step2_message(self.doc.get_update(payload)))
            elif sub in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
                if not peer.writable:
                    peer.refused += 1  # a reader's edits are not applied (its own copy diverges until reload)
                    return
                changed = self.apply(payload)
                if changed is not None:
                    self.queue_update(peer, changed)
        elif kind == YMessageType.AWARENESS:
            payload = decoder.read_message()
            if payload is not None:
                self.receive_awareness(peer, payload)

    # -- presence ----------------------------------------------------------------------------------------
    def presence(self) -> list[dict[str, Any]]:
        by_client = {cid: p for p in self.peers for cid in p.client_ids}
        out = []
        for client_id, state in self.awareness.states.items():
            if not state:
                continue
            peer = by_client.get(client_id)
            raw = state.get("user")
            user: dict[str, Any] = raw if isinstance(raw, dict) else {}
            out.append({"clientId": client_id, "userId": peer.principal.user_id if peer else None,
                        "username": peer.principal.username if peer else None,
                        "name": user.get("name"), "color": user.get("color"), "cursor": state.get("cursor"),
                        "readOnly": (not peer.writable) if peer else None, "local": peer is not None})
        return out

    def editors_connected(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for peer in self.peers:
            uid = peer.principal.user_id or ""
            entry = seen.setdefault(uid, {"userId": peer.principal.user_id, "username": peer.principal.username,
                                          "connections": 0, "readOnly": not peer.writable})
            entry["connections"] += 1
            entry["readOnly"] = entry["readOnly"] and not peer.writable
        return list(seen.values())

    def start(self, *loops: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.tasks = [asyncio.create_task(loop(), name=f"collab-{self.doc_id[:8]}") for loop in
                      (self.run_writer, *loops)]

    async def stop(self) -> None:
        self.closed = True
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.flush()
