"""One client connection to the channel: its rooms, a bounded outbound queue, and what it has been sent.

The hub only ever ``offer``s to the queue (never awaits a client). The connection's writer iterates
:meth:`Connection.outputs`, which turns queued items into what to send — joins are answered there, in queue
order, so a room's history and its live messages interleave without gap or duplicate:

1. ``join`` registers the room with the hub first, then queues a join item;
2. the writer reaches the item, reads the room's current seq (and, for a resume, the history after the
   client's seq) from the database, and sets the room's floor to that seq;
3. live messages queued behind it with seq ≤ floor were in the history (or predate the join): skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from genloom.channel.store import Message
from genloom.core.ids import new_id
from genloom.core.principal import Principal


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    seq: int
    #: False when a resume asked for messages that retention already dropped
    recovered: bool = True


@dataclass(frozen=True, slots=True)
class Delivered:
    message: Message


@dataclass(frozen=True, slots=True)
class JobEvent:
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """A frame the protocol built already (pong, error, left …), sent in queue order."""

    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


Output = Joined | Delivered | JobEvent | Reply | Heartbeat


@dataclass(frozen=True, slots=True)
class _JoinItem:
    room: str
    after: int | None


@dataclass(frozen=True, slots=True)
class _End:
    reason: str


class ConnectionEnded(Exception):
    """The connection must close: ``reason`` is ``replaced``, ``too_slow``, ``silent`` or ``closed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CatchUp = Callable[[str, int | None], Awaitable[tuple[int, list[Message], bool]]]


class Connection:
    def __init__(self, principal: Principal, client_id: str, *, queue_size: int, heartbeat: float) -> None:
        self.id = new_id()
        self.principal = principal
        self.client_id = client_id
        self.heartbeat = heartbeat
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        #: room -> the highest seq this client has been sent (or told about in ``joined``)
        self.floors: dict[str, int] = {}
        #: rooms joined whose join item is still queued
        self.pending: set[str] = set()
        #: the seq of this connection's own announcement in its replacement room (newer connections win)
        self.announced_seq = 0
        self.ended: str | None = None
        self._ended = asyncio.Event()
        self.last_received = time.monotonic()

    @property
    def key(self) -> tuple[str, str]:
        return (self.principal.user_id or "", self.client_id)

    @property
    def rooms(self) -> set[str]:
        return set(self.floors) | self.pending

    # -- called by the hub and the reader (synchronously) ----------------------------------------------
    def offer(self, item: Any) -> bool:
        """Queue an item; False when the queue is full (the hub then ends this connection as too slow)."""
        if self.ended is not None:
            return True
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            return False

    def queue_join(self, room: str, after: int | None) -> bool:
        self.pending.add(room)
        return self.offer(_JoinItem(room, after))

    def leave(self, room: str) -> None:
        self.floors.pop(room, None)
        self.pending.discard(room)

    def end(self, reason: str) -> None:
        """Make the writer stop with ``reason`` (what was queued is dropped: the client resumes by seq)."""
        if self.ended is not None:
            return
        self.ended = reason
        self._ended.set()
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_End(reason))

    async def wait_ended(self) -> str:
        """Until :meth:`end` is called (the writer may be stuck sending to a client that stopped reading)."""
        await self._ended.wait()
        return self.ended or "closed"

    def touch(self) -> None:
        self.last_received = time.monotonic()

    # -- the writer ------------------------------------------------------------------------------------
    async def outputs(self, catch_up: CatchUp) -> AsyncIterator[Output]:
        """What to send, in order, with a Heartbeat every ``heartbeat`` seconds whatever else is sent. Raises
        ConnectionEnded when the connection must close, including after three heartbeats of client silence."""
        next_beat = time.monotonic() + self.heartbeat
        while True:
            item: Any = None
            wait = next_beat - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(self.queue.get(), wait)
            if item is None:
                if time.monotonic() - self.last_received > 3 * self.heartbeat:
                    self.end("silent")
                    raise ConnectionEnded("silent")
                next_beat = time.monotonic() + self.heartbeat
                yield Heartbeat()
                continue
            if isinstance(item, _End):
                raise ConnectionEnded(item.reason)
            if isinstance(item, _JoinItem):
                if item.room not in self.pending:
                    continue  # left before the join was served
                if item.room in self.floors:  # joined already: live delivery never stopped
                    self.pending.discard(item.room)
                    yield Joined(item.room, self.floors[item.room])
                    continue
                seq, history, recovered = await catch_up(item.room, item.after)
                self.pending.discard(item.room)
                self.floors[item.room] = max(seq, self.floors.get(item.room, 0))
                yield Joined(item.room, seq, recovered)
                for message in history:
                    yield Delivered(message)
            elif isinstance(item, Message):
                floor = self.floors.get(item.room)
                if floor is None or item.seq <= floor:
                    continue  # not (or no longer) joined, or already sent in a history
                self.floors[item.room] = item.seq
                yield Delivered(item)
            else:
                yield item
