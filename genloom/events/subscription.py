"""One subscriber's view of the event hub: a bounded queue, a filter, and replay from the event log.

See :mod:`genloom.events.hub` for the guarantees and an example.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from genloom.core.principal import Principal

if TYPE_CHECKING:
    from genloom.events.hub import Hub

#: rows per replay page
PAGE = 500
#: ids below its resume point one subscription waits for at most, and ranges one resume token names
MAX_WANTED = 1000
HOLES_IN_TOKEN = 32
#: event types after which a job changes no more (until someone retries it)
TERMINAL_TYPES = frozenset({"succeeded", "failed", "canceled"})


class SubscriberOverflow(Exception):
    """The subscriber fell too far behind and was disconnected; resume from the last event id it handled."""


_END = object()  # queue sentinel: the subscription was closed
_OVERFLOW = object()  # queue sentinel: dropped for being slow
_NUDGE = object()  # queue sentinel: a replay was added; wake the reader blocked on the queue


def encode_event(row: Any) -> dict[str, Any]:
    """A stored event as the hub carries it: the public fields plus ``owner_id`` (for filtering) and
    ``public``, the subscriber-facing dict built once and shared by every subscriber (treat it as read-only)."""
    created = row.created_at
    pub = {
        "id": int(row.id),
        "job_id": row.job_id,
        "type": row.type,
        "data": row.data if row.data is not None else {},
        "created_at": created.isoformat().replace("+00:00", "Z") if created is not None else None,
    }
    return {**pub, "owner_id": row.owner_id, "public": pub}


def public(event: dict[str, Any]) -> dict[str, Any]:
    """The event as subscribers get it: ``{"id", "job_id", "type", "data", "created_at"}``."""
    pub: dict[str, Any] = event["public"]
    return pub


class Subscription:
    """A live, resumable stream of job events for one principal. Create with :meth:`Hub.subscribe`.

    Iterate with ``async for``. ``job_ids=None`` means every job the principal may read; a set limits the
    stream to those jobs (and :meth:`add_jobs` / :meth:`remove_jobs` change it). ``last_id`` is the id of the
    last event handed out, what a client sends back to resume. Live events are shared between subscribers:
    do not mutate them (copy first).
    """

    def __init__(self, hub: Hub, principal: Principal, job_ids: set[str] | None, after: int | None, maxsize: int) -> None:
        self.hub = hub
        self.principal = principal
        self.job_ids = None if job_ids is None else set(job_ids)
        self.sees_all = principal.sees_all("jobs")
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self.closed = False
        #: ended by a graceful shutdown: the stream tells its client to reconnect elsewhere (from resume_id)
        self.restarting = False
        self.last_id = after or 0
        #: where the stream began: ``after``, or for a live-only stream the hub's position when it subscribed
        self.start_id = after or 0
        #: per-job floors from add_jobs(after=…): live events at or below them were already seen
        self._floors: dict[str, int] = {}
        #: pending replays: (job ids or None for all, after, cut) — served before the live queue
        self._replays: collections.deque[tuple[set[str] | None, int, int]] = collections.deque()
        self._buffer: collections.deque[dict[str, Any]] = collections.deque()
        self._global_floor = after or 0
        self._replayed_holes: set[int] = set()
        #: ids at or below the resume point the client never got (gaps where it was before): sent if they show up
        self._wanted: set[int] = set()
        #: the client named its holes, so a late event at or below the resume point is sent only if wanted
        self._holes_named = False

    # -- filtering (called by the hub, synchronously) --------------------------------------------------
    def may_see(self, owner_id: str) -> bool:
        return self.sees_all or owner_id == self.principal.owner_id

    # -- what the hub calls: this is the whole interface between the two ---------------------------------
    def offer(self, event: dict[str, Any]) -> bool:
        """Queue an event; False if the queue is full (the hub then drops this subscriber)."""
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            return False

    def overflow(self) -> None:
        """Dropped for being slow: the iterator raises :class:`SubscriberOverflow` next."""
        self._kill(_OVERFLOW)

    def restart(self) -> None:
        """The server is shutting down: end the iteration now (what is queued or still to replay is moot, the
        client resumes from :attr:`resume_id` on another server)."""
        if self.closed or self.overflowed or self.restarting:
            return
        self.restarting = True
        self._replays.clear()
        self._buffer.clear()
        self._kill(_END)

    def want(self, holes: Iterable[tuple[int, int]]) -> None:
        """The client resumed after ``start_id`` but never got these ranges of ids (the replica it was on skipped
        them as gaps): replay the ones stored by now, and send the others if they commit later."""
        self._holes_named = True
        self._want(holes, upto=self.start_id, jobs=None if self.job_ids is None else set(self.job_ids))

    def _want(self, holes: Iterable[tuple[int, int]], *, upto: int, jobs: set[str] | None) -> None:
        """Note the ids of ``holes`` at or below ``upto`` as owed, and replay those of ``jobs`` stored by now."""
        for lo, hi in holes:
            ids = range(max(1, lo), min(hi, upto) + 1)
            if not ids or len(self._wanted) + len(ids) > MAX_WANTED:
                continue
            self._wanted.update(ids)
            if ids[0] <= self.hub.delivered_id:
                self.replay((jobs, ids[0] - 1, min(ids[-1], self.hub.delivered_id)))

    def resume_token(self) -> str:
        """What a client sends back to resume (SSE ``id:``): the last id handed out, then the ranges below it it
        has not got yet — ``"12"`` or ``"12:10-10,7-8"``. PostgreSQL can make id 10 visible after id 12, and the
        replica the client resumes on may have sent id 10 in order long before: the id alone would lose it."""
        last = self.resume_id
        ranges = set(self.hub.skipped.below(last)) if self.hub.skipped else set()
        if self._wanted:
            ranges |= {(i, i) for i in self._wanted}
        if not ranges:
            return str(last)
        return f"{last}:" + ",".join(f"{lo}-{hi}" for lo, hi in sorted(ranges)[-HOLES_IN_TOKEN:])

    @property
    def resume_id(self) -> int:
        """The id a client resumes after to miss nothing: the last event handed out, or where it began."""
        return max(self.last_id, self.start_id)

    def replay(self, replay: tuple[set[str] | None, int, int]) -> None:
        """Queue a replay from the log: (job ids or None for all, after this id, up to this id)."""
        self._replays.append(replay)

    def _kill(self, sentinel: object) -> None:
        # Make room for the sentinel: what was queued is moot, the client resumes by id.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(sentinel)

    # -- public API ------------------------------------------------------------------------------------
    def add_jobs(self, job_ids: Iterable[str], *, after: int | None = None,
                 holes: Iterable[tuple[int, int]] = ()) -> None:
        """Also follow ``job_ids``; with ``after``, first replay their stored events after that id, and those
        inside ``holes`` (ranges below ``after`` the client never got: a WebSocket resume token, see
        :meth:`resume_token`), which are also sent if they commit later.

        Replayed events come before later live ones; order is by id within each job."""
        new = {j for j in job_ids if self.job_ids is None or j not in self.job_ids}
        if self.job_ids is None or not new or self.closed or self.overflowed or self.restarting:
            return
        self.hub.track(self, new)
        if after is not None:
            for job_id in new:
                self._floors[job_id] = max(after, self.hub.delivered_id)
            self._want(sorted(holes), upto=after, jobs=set(new))
            self.replay((new, after, self.hub.delivered_id))
            with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes the reader anyway
                self.queue.put_nowait(_NUDGE)
        else:
            for job_id in new:
                self._floors[job_id] = self.hub.delivered_id

    def remove_jobs(self, job_ids: Iterable[str]) -> None:
        """Stop following ``job_ids`` (events already queued for them are dropped too)."""
        if self.job_ids is None:
            return
        gone = set(job_ids) & self.job_ids
        self.hub.untrack(self, gone)
        for job_id in gone:
            self._floors.pop(job_id, None)

    def close(self) -> None:
        """Unsubscribe. Safe to call more than once."""
        if not self.closed:
            self.closed = True
            self.hub.unsubscribe(self)
            with contextlib.suppress(asyncio.QueueFull):
                self._kill(_END)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while True:
            if self.restarting:
                raise StopAsyncIteration  # also after a replay page that was being read when the restart came
            if self._buffer:
                event = self._buffer.popleft()
                if self.job_ids is not None and event["job_id"] not in self.job_ids:
                    continue  # removed while its replay was pending
            elif self._replays:
                self._buffer.extend(await self._replay_page())
                continue
            else:
                item = await self.queue.get()
                if item is _END:
                    self.queue.put_nowait(_END)  # stay ended for any later __anext__
                    raise StopAsyncIteration
                if item is _OVERFLOW:
                    self.queue.put_nowait(_OVERFLOW)
                    raise SubscriberOverflow()
                if item is _NUDGE:
                    continue
                event = item
                if self.job_ids is not None and event["job_id"] not in self.job_ids:
                    continue  # removed after it was queued
                if event.get("late"):
                    if event["id"] in self._replayed_holes:
                        continue  # a replay read it after its late commit
                    if self._holes_named and event["id"] <= self.start_id and event["id"] not in self._wanted:
                        continue  # the client got it where it was before
                elif event["id"] <= self._floors.get(event["job_id"], self._global_floor) \
                        and event["id"] not in self._wanted:
                    continue  # already handed out by a replay
            self._wanted.discard(event["id"])
            self.last_id = max(self.last_id, event["id"])
            return public(event)

    async def _replay_page(self) -> list[dict[str, Any]]:
        jobs, after, cut = self._replays[0]
        rows = await self.hub.read_events(self.principal, jobs, after=after, upto=cut, limit=PAGE)
        if self.restarting:
            return []  # restart() emptied the replays while this page was being read
        # Rows inside ids the hub skipped as gaps may also come late through the queue: remember them.
        self._replayed_holes.update(r["id"] for r in rows if self.hub.skipped.contains(r["id"]))
        if len(rows) < PAGE:
            self._replays.popleft()
        else:
            self._replays[0] = (jobs, rows[-1]["id"], cut)
        return rows


async def with_heartbeats(sub: Subscription, interval: float) -> AsyncIterator[dict[str, Any] | None]:
    """Events of ``sub``, with ``None`` whenever ``interval`` seconds pass without one (send a heartbeat).

    The pending read is never cancelled by a heartbeat, so no event (and no replay page) is lost."""
    pending: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(sub.__anext__())
            # No names kept for finished tasks: a task holds its exception, whose traceback holds this frame,
            # and such a cycle keeps a closed connection (protocol objects, buffers, zlib state) alive until
            # the next full garbage collection, which takes seconds with 10,000 sockets open.
            if not (await asyncio.wait({pending}, timeout=interval))[0]:
                yield None
                continue
            task, pending = pending, None
            try:
                event = task.result()
            except StopAsyncIteration:
                return
            finally:
                del task
            yield event
    finally:
        if pending is not None:
            pending.cancel()
            # Wait without re-raising its outcome: re-raised here, while a CancelledError is being handled, the
            # task's StopAsyncIteration would get that error as __context__, closing the same kind of cycle.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({pending})
            if pending.done() and not pending.cancelled():
                pending.exception()  # mark it retrieved (no "exception was never retrieved" warning)
