"""Replies being generated in this process, so any number of clients can follow one live and a client that
went away can come back: each piece is kept with the character offset it ends at (the SSE ``id``), so
``Last-Event-ID: n`` replays exactly what came after character ``n``.

A reply lives here from its first piece until it is stored whole; after that (or in another API process)
the stored row is the source (see :func:`genloom.assistant.service.follow`). Followers wait on a condition the
producer notifies with each piece, so a follower wakes as soon as a piece arrives from the provider: there is
no queue, extra task or poll between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class StreamEvent:
    """One SSE event of a reply: ``token`` (id = end offset), ``done`` or ``error``."""

    event: str
    data: dict[str, Any]
    id: int | None = None


#: what a follower yields after a quiet spell (an SSE comment keeps proxies from closing the stream)
KEEPALIVE = StreamEvent("keepalive", {})


@dataclass
class LiveReply:
    message_id: str
    session_id: str
    owner_id: str
    pieces: list[tuple[int, str]] = field(default_factory=list)
    length: int = 0
    final: StreamEvent | None = None
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def text(self) -> str:
        return "".join(piece for _, piece in self.pieces)

    async def add(self, delta: str) -> None:
        self.length += len(delta)
        self.pieces.append((self.length, delta))
        async with self._changed:
            self._changed.notify_all()

    async def finish(self, event: StreamEvent) -> None:
        self.final = event
        async with self._changed:
            self._changed.notify_all()

    def _moved_past(self, index: int) -> bool:
        return index < len(self.pieces) or self.final is not None

    async def follow(self, after: int = 0, *, keepalive: float | None = None) -> AsyncIterator[StreamEvent]:
        """Every piece after character ``after`` (the first one cut where needed), live, then the final event;
        :data:`KEEPALIVE` after ``keepalive`` seconds without one."""
        index = next((i for i, (end, _) in enumerate(self.pieces) if end > after), len(self.pieces))
        while True:
            while index < len(self.pieces):
                end, piece = self.pieces[index]
                start = end - len(piece)
                yield StreamEvent("token", {"delta": piece[max(0, after - start):]}, id=end)
                index += 1
            if self.final is not None:
                yield self.final
                return
            quiet = False
            async with self._changed:
                try:
                    async with asyncio.timeout(keepalive):
                        await self._changed.wait_for(functools.partial(self._moved_past, index))
                except TimeoutError:
                    quiet = True
            if quiet:  # yielded outside the lock: a follower that stops reading must not block the producer
                yield KEEPALIVE


class ReplyStreams:
    """The live replies of this process, by message id."""

    def __init__(self) -> None:
        self._live: dict[str, LiveReply] = {}

    def add(self, reply: LiveReply) -> None:
        self._live[reply.message_id] = reply

    def get(self, message_id: str) -> LiveReply | None:
        return self._live.get(message_id)

    def discard(self, message_id: str) -> None:
        self._live.pop(message_id, None)

    def cancel(self, message_id: str) -> bool:
        """Stop the reply's provider call (it is then stored as far as it got). False when not running here."""
        reply = self._live.get(message_id)
        if reply is None or reply.task is None or reply.task.done():
            return False
        reply.task.cancel()
        return True

    def __len__(self) -> int:
        return len(self._live)

    async def close(self) -> None:
        """Shutdown: cancel every reply still running and wait until each is stored as incomplete."""
        tasks = [r.task for r in self._live.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
