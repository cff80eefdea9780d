"""The event hub: one per API process, it tails ``job_events`` by id and fans events out to subscribers.

Use it from any realtime surface (native SSE/WS, cineMind ``/ws/tasks``, GenFlow …)::

    hub = runtime.hub                      # one per process, started by the app
    sub = hub.subscribe(principal, job_ids={"j1"}, after=last_seen_id)   # job_ids=None: everything visible
    try:
        async for event in sub:            # {"id", "job_id", "type", "data", "created_at"}
            ...
            sub.add_jobs({"j2"}, after=None)   # widen (optionally replaying from an id)
            sub.remove_jobs({"j1"})
    except SubscriberOverflow:
        ...                                # too slow: reconnect and resume from the last id you handled
    finally:
        sub.close()

Guarantees:

- **Order and resume.** Events are delivered in id order, contiguously: the hub hands out id ``n`` only after
  every id below it was delivered or declared a gap (see below). A subscriber that passes ``after`` first
  gets everything after that id from the database, then continues live, with no gap and no duplicate.
- **Gaps.** PostgreSQL assigns sequence ids at INSERT but makes rows visible at COMMIT, so id 11 can become
  visible before id 10. The hub stops at the first missing id and waits ``GAP_WAIT_SECONDS`` for it; after
  that the id is skipped (a rolled-back transaction leaves a permanent hole). Skipped ids are re-checked for a
  while and delivered late if they do show up, so a very slow commit is never silently lost. On SQLite writers
  are serialised and ids are committed in order, so a hole can only be a deleted row and is skipped at once.
- **Back-pressure.** Each subscriber owns one bounded queue (``event_queue_size``). The hub never awaits a
  subscriber: when a queue is full the subscriber is dropped and its iterator raises ``SubscriberOverflow``.
- **Visibility.** A subscriber sees only events of owners its principal may read (``owner_clause``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, or_, select

from genloom.core.db import Database
from genloom.core.errors import Unavailable
from genloom.core.outage import Outage, is_database_unavailable, next_delay
from genloom.core.principal import Principal, owner_clause
from genloom.core.settings import Settings
from genloom.events.gaps import SkippedIds
from genloom.events.subscription import (
    PAGE,
    TERMINAL_TYPES,
    SubscriberOverflow,
    Subscription,
    encode_event,
    public,
    with_heartbeats,
)
from genloom.jobs.models import JobEvent
from genloom.jobs.signals import Signals

log = logging.getLogger("genloom.hub")

events_t = JobEvent.__table__
EVENT_COLUMNS = (events_t.c.id, events_t.c.job_id, events_t.c.owner_id, events_t.c.type, events_t.c.data,
                 events_t.c.created_at)
#: how long a missing id may hold back delivery before it is treated as a rolled-back insert (PostgreSQL)
GAP_WAIT_SECONDS = 1.5
#: at start-up, ids this far below the newest are checked for holes (transactions still in flight)
START_LOOKBACK = 1000

Listener = Callable[[list[dict[str, Any]]], None]
Reset = Callable[[], None]


__all__ = ["Hub", "Subscription", "SubscriberOverflow", "TERMINAL_TYPES", "public", "with_heartbeats"]


class Hub:
    """Tails ``job_events`` and fans out to subscribers. Start with :meth:`start`, stop with :meth:`close`."""

    def __init__(self, settings: Settings, db: Database, signals: Signals) -> None:
        self.settings = settings
        self.db = db
        self.signals = signals
        #: every id up to here was delivered (or skipped as a gap)
        self.delivered_id = 0
        #: ``signals.events_seq`` as of the start of the last tail read that came back complete
        self.caught_up_seq = -1
        #: False until the first successful read and after a failed one (the read model then reads through)
        self.live = False
        #: subscribers to every visible job: those who see all owners, and the others by owner id
        self._all_owners: set[Subscription] = set()
        self._by_owner: dict[str, set[Subscription]] = {}
        self._by_job: dict[str, set[Subscription]] = {}
        self._listeners: list[tuple[Listener, Reset]] = []
        self._next_recheck = 0.0
        self._gap_since: float | None = None
        #: ranges skipped as gaps, watched for late commits
        self.skipped = SkippedIds()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: True once the end of the log is known (subscribers are refused before)
        self.positioned = False
        #: a graceful shutdown began: new subscribers are refused, open streams were told to reconnect
        self.draining = False
        self._drain_open: set[Subscription] = set()
        self._drained = asyncio.Event()

    @property
    def running(self) -> bool:
        """Started (:meth:`start`) and not closed: API processes run one, workers and the CLI do not."""
        return self._task is not None and not self._stopping

    # -- subscribers -----------------------------------------------------------------------------------
    def subscribe(self, principal: Principal, job_ids: Iterable[str] | None = None, after: int | None = None,
                  holes: Iterable[tuple[int, int]] = ()) -> Subscription:
        """A new subscription. ``after``: replay stored events with a greater id first (None: live only);
        ``holes``: ranges below ``after`` the client never got (skipped as gaps where it was), sent if they exist.

        Raises :class:`~genloom.core.errors.Unavailable` while the hub cannot reach the database at start-up."""
        if not self.positioned:
            raise Unavailable("the event stream is starting; try again shortly")
        if self.draining:
            raise Unavailable("this server is shutting down; reconnect to resume")
        sub = Subscription(self, principal, None if job_ids is None else set(job_ids), after,
                           self.settings.event_queue_size)
        if after is None:
            sub.start_id = self.delivered_id  # live only: a resume from here misses nothing it was owed
        else:
            sub.want(holes)
        if sub.job_ids is None:
            if sub.sees_all:
                self._all_owners.add(sub)
            else:
                self._by_owner.setdefault(principal.owner_id, set()).add(sub)
        else:
            self.track(sub, sub.job_ids)
        if after is not None and after < self.delivered_id:
            # Everything above delivered_id arrives through the queue; the rest comes from the database.
            sub.replay((None if sub.job_ids is None else set(sub.job_ids), after, self.delivered_id))
        return sub

    def _subscribers(self) -> set[Subscription]:
        subs = set(self._all_owners)
        for groups in (self._by_owner, self._by_job):
            for group in groups.values():
                subs |= group
        return subs

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers())

    def stats(self) -> dict[str, Any]:
        """For health and metrics: position, state and subscriber count."""
        return {"live": self.live, "delivered_id": self.delivered_id, "subscribers": self.subscriber_count,
                "watched_gaps": len(self.skipped)}

    def add_listener(self, on_events: Listener, on_reset: Reset) -> None:
        """Call ``on_events(batch)`` synchronously for every delivered batch, before subscribers get it, and
        ``on_reset()`` whenever delivery may have missed something (an id skipped as a gap, the stream lost)."""
        self._listeners.append((on_events, on_reset))

    def track(self, sub: Subscription, job_ids: set[str]) -> None:
        assert sub.job_ids is not None
        sub.job_ids |= job_ids
        for job_id in job_ids:
            self._by_job.setdefault(job_id, set()).add(sub)

    def untrack(self, sub: Subscription, job_ids: set[str]) -> None:
        assert sub.job_ids is not None
        sub.job_ids -= job_ids
        for job_id in job_ids:
            group = self._by_job.get(job_id)
            if group is not None:
                group.discard(sub)
                if not group:
                    del self._by_job[job_id]

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._drain_open:
            self._drain_open.discard(sub)
            if not self._drain_open:
                self._drained.set()
        self._all_owners.discard(sub)
        owner_group = self._by_owner.get(sub.principal.owner_id)
        if owner_group is not None:
            owner_group.discard(sub)
            if not owner_group:
                del self._by_owner[sub.principal.owner_id]
        if sub.job_ids:
            self.untrack(sub, set(sub.job_ids))

    # -- reading the log -------------------------------------------------------------------------------
    async def read_events(
        self, principal: Principal, job_ids: set[str] | None, *, after: int, upto: int | None = None, limit: int = PAGE
    ) -> list[dict[str, Any]]:
        """Stored events after ``after`` (and up to ``upto``) that ``principal`` may see, in id order."""
        if job_ids is not None and not job_ids:
            return []
        stmt = select(*EVENT_COLUMNS).where(events_t.c.id > after).order_by(events_t.c.id).limit(limit)
        if upto is not None:
            stmt = stmt.where(events_t.c.id <= upto)
        if job_ids is not None:
            stmt = stmt.where(events_t.c.job_id.in_(sorted(job_ids)))
        clause = owner_clause(events_t.c.owner_id, principal, "jobs")
        if clause is not None:
            stmt = stmt.where(clause)
        async with self.db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [encode_event(r) for r in rows]

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin at the newest event id (earlier events are served by replay), then tail.

        Never fails: with the database down the hub keeps trying in the background (and refuses
        subscribers until it knows where the log ends)."""
        if self._task is not None:
            return
        self._stopping = False
        try:
            await self._position()
        except Exception as exc:  # noqa: BLE001 - the app must start (and answer 503s) without its database
            log.warning("hub.start_deferred error=%s", type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="genloom-event-hub")

    async def _position(self) -> None:
        async with self.db.reader.connect() as conn:
            newest = int((await conn.execute(select(func.max(events_t.c.id)))).scalar() or 0)
            recent = [] if self.db.is_sqlite or newest == 0 else [
                int(r[0]) for r in (await conn.execute(
                    select(events_t.c.id).where(events_t.c.id > newest - START_LOOKBACK).order_by(events_t.c.id)
                )).all()
            ]
        self.delivered_id = newest
        # Holes just below the start may be transactions still in flight: watch them like skipped gaps.
        expected = max(0, newest - START_LOOKBACK) + 1 if recent else newest + 1
        for rid in recent:
            if rid > expected:
                self.skipped.remember(expected, rid - 1)
            expected = rid + 1
        self.positioned = True

    async def drain(self, budget: float) -> None:
        """Graceful shutdown (a :class:`~genloom.core.shutdown.Shutdown` hook): refuse new subscribers, end every
        open stream with :meth:`Subscription.restart` (each stream then sends its client the frame that says
        "reconnect elsewhere, after this id") and wait up to ``budget`` seconds until all of them closed."""
        self.draining = True
        subs = self._subscribers()
        for sub in subs:
            sub.restart()
            self.unsubscribe(sub)  # no more live events: the client gets them from the next server
        self._drain_open = {sub for sub in subs if not sub.closed}  # unsubscribe() again, by close(), removes
        if self._drain_open:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), budget)
        log.info("hub.drained streams=%d still_open=%d", len(subs), len(self._drain_open))

    async def close(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.live = False
        for sub in self._subscribers():
            sub.close()

    async def _run(self) -> None:
        signals = self.signals
        seen = signals.events_seq
        outage = Outage("hub", log, self.db.reachability)
        failures = 0
        while not self._stopping:
            seq_before = signals.events_seq
            try:
                if not self.positioned:
                    await self._position()
                more, hold = await self._step()
                if not self.live:
                    log.info("hub.live from_id=%d", self.delivered_id)
                self.live, failures = True, 0
                outage.ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the hub must survive database outages
                failures += 1
                if self.live:
                    log.warning("hub.stream_lost error=%s", type(exc).__name__)
                self._set_lost()
                # jittered, so the hubs of many replicas do not all come back in the same instant
                delay = outage.failed(exc) if is_database_unavailable(exc) else next_delay(failures)
                await asyncio.sleep(delay)
                continue
            if more:
                continue
            if not hold:
                self.caught_up_seq = seq_before
            timeout = self.settings.event_poll_seconds if not hold else min(self.settings.event_poll_seconds, 0.05)
            seen = await signals.wait_events_since(seen, timeout)

    def _set_lost(self) -> None:
        self.live = False
        self._reset_listeners()

    async def _step(self) -> tuple[bool, bool]:
        """One tail read. Returns (a full page came back: read again now, holding back at a gap)."""
        if self.skipped and time.monotonic() >= self._next_recheck:
            self._next_recheck = time.monotonic() + 0.5
            await self._recheck_skipped()
        async with self.db.reader.connect() as conn:
            rows = (await conn.execute(
                select(*EVENT_COLUMNS).where(events_t.c.id > self.delivered_id).order_by(events_t.c.id).limit(PAGE)
            )).all()
        batch: list[dict[str, Any]] = []
        hold = False
        for row in rows:
            rid = int(row.id)
            if rid != self.delivered_id + 1:
                if not self._gap_expired():
                    hold = True
                    break
                log.info("hub.gap_skipped from_id=%d to_id=%d", self.delivered_id + 1, rid - 1)
                self.skipped.remember(self.delivered_id + 1, rid - 1)
                self._reset_listeners()
            self._gap_since = None
            batch.append(encode_event(row))
            self.delivered_id = rid
        if batch:
            self._dispatch(batch)
        return len(rows) == PAGE and not hold, hold

    def _gap_expired(self) -> bool:
        if self.db.is_sqlite:
            return True  # ids commit in order on SQLite: a hole is a deleted row, never a late one
        now = time.monotonic()
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since >= GAP_WAIT_SECONDS

    async def _recheck_skipped(self) -> None:
        ranges = self.skipped.watched()
        if not ranges:
            return
        cond = [events_t.c.id.between(lo, hi) for lo, hi in ranges]
        async with self.db.reader.connect() as conn:
            rows = (await conn.execute(select(*EVENT_COLUMNS).where(or_(*cond)).order_by(events_t.c.id))).all()
        if not rows:
            return
        late = []
        for row in rows:
            event = encode_event(row)
            event["late"] = True
            late.append(event)
        found = {int(r.id) for r in rows}
        for lo, hi in ranges:
            if all(i in found for i in range(lo, hi + 1)):
                self.skipped.filled(lo, hi)
        log.warning("hub.late_events count=%d first_id=%d", len(late), late[0]["id"])
        self._dispatch(late)

    def _reset_listeners(self) -> None:
        for _on_events, on_reset in self._listeners:
            try:
                on_reset()
            except Exception:  # noqa: BLE001 - a broken listener must not stop delivery
                log.exception("hub.listener_failed")

    def _notify(self, events: list[dict[str, Any]]) -> None:
        for on_events, _on_reset in self._listeners:
            try:
                on_events(events)
            except Exception:  # noqa: BLE001 - a broken listener must not stop delivery
                log.exception("hub.listener_failed")

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        """Hand a batch to listeners, then to matching subscribers. Never awaits."""
        self._notify(events)
        if not (self._all_owners or self._by_owner or self._by_job):
            return
        dropped: list[Subscription] = []
        empty: set[Subscription] = set()
        for event in events:
            # Only the subscribers this event can concern: no scan over every connection per event.
            owner = event["owner_id"]
            for targets in (self._all_owners, self._by_owner.get(owner, empty), self._by_job.get(event["job_id"], empty)):
                for sub in targets:
                    if sub.overflowed or not sub.may_see(owner):
                        continue
                    if not sub.offer(event):
                        sub.overflowed = True
                        dropped.append(sub)
        for sub in dropped:
            log.warning("hub.subscriber_dropped reason=overflow owner=%s queued=%d", sub.principal.owner_id,
                        sub.queue.qsize())
            self.unsubscribe(sub)
            sub.overflow()
