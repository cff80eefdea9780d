"""The read model behind status polling: an in-process LRU of job snapshots kept fresh by the event hub.

Clients poll ``GET /v1/jobs/{id}`` and ``GET /api/status/{id}`` constantly; an ORM session per request caps
such a route near 900 req/s. Here a hit is a dict lookup and a miss is ONE Core SELECT on a pooled reader
connection. Callers apply owner checks to the returned ``owner_id``.

Why a cached entry is never stale (beyond the hub's delivery latency):

1. Every change to a job's public columns writes a ``job_events`` row in the same transaction, and the hub
   delivers every event (or, when it skips an id as a gap or loses its stream, tells us to forget
   everything). Each delivered event evicts its job's entry and bumps ``touch`` for that job.
2. A miss notes the version before its SELECT and caches the row only if no event of that job (and no reset)
   was processed while the SELECT ran. Any commit the SELECT did not see has an event the hub has not
   processed yet; the hub processes it later, after our insert, and evicts the entry. Checking and
   inserting happen with no ``await`` in between, so the hub cannot interleave.
3. Read-your-writes in this process: a local commit bumps ``signals.events_seq`` before the request that
   made it returns. A hit is served only if the hub has caught up with that sequence; otherwise it reads
   through.
3b. Read-your-writes across replicas (PostgreSQL): a client that wrote on replica A and reads on B at once
   races A's NOTIFY and B's tail read, and nothing makes the hub win that race. So on
   PostgreSQL a hit is served only after ``SELECT max(id) FROM job_events`` — started *after* the request
   arrived, so it sees every commit the client could have seen — shows nothing the hub has not delivered.
   One such probe is shared by every hit that arrives while the previous one runs (a backward index step,
   one round trip per batch of concurrent reads), and it never touches the job row. On SQLite other
   processes' commits are seen once ``data_version`` wakes the hub (milliseconds).
4. Entries also expire after ``MAX_AGE_SECONDS``: a belt for rows changed outside the queue (retention
   pruning deletes jobs without events).

When no hub runs in this process (``genloom worker``, the CLI) or it lost its stream, reads go through
without caching.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from sqlalchemy import bindparam, func, select

from genloom.core.db import Database
from genloom.events.hub import Hub
from genloom.jobs.models import Job, JobEvent
from genloom.jobs.signals import Signals

jobs_t = Job.__table__
#: every job column but the ones that change without an event (lease renewals, idempotency-key expiry)
SNAPSHOT_COLUMNS = tuple(c for c in jobs_t.c if c.name not in ("lease_until", "idempotency_key"))
_SELECT_ONE = select(*SNAPSHOT_COLUMNS).where(jobs_t.c.id == bindparam("job_id"))
_NEWEST_EVENT = select(func.max(JobEvent.__table__.c.id))
MAX_AGE_SECONDS = 30.0
#: how many per-job "last touched" versions are remembered for the miss check
TOUCH_MEMORY = 50_000


class JobCache:
    """A bounded LRU of job snapshots, invalidated by hub events."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: collections.OrderedDict[str, tuple[float, dict[str, Any]]] = collections.OrderedDict()
        #: bumped by every processed batch and every reset
        self.version = 0
        #: job id -> version at which its last event was processed (bounded; see ``_touch_floor``)
        self._touch: collections.OrderedDict[str, int] = collections.OrderedDict()
        #: any version at or below this may have had touches we no longer remember (trimmed or reset)
        self._touch_floor = 0
        self.hits = self.misses = 0

    # -- hub listener ----------------------------------------------------------------------------------
    def on_events(self, events: list[dict[str, Any]]) -> None:
        self.version += 1
        for event in events:
            job_id = event["job_id"]
            self._rows.pop(job_id, None)
            self._touch[job_id] = self.version
            self._touch.move_to_end(job_id)
        while len(self._touch) > TOUCH_MEMORY:
            _job, version = self._touch.popitem(last=False)
            self._touch_floor = max(self._touch_floor, version)

    def on_reset(self) -> None:
        self.version += 1
        self._rows.clear()
        self._touch.clear()
        self._touch_floor = self.version

    # -- reads -----------------------------------------------------------------------------------------
    def get(self, job_id: str) -> dict[str, Any] | None:
        entry = self._rows.get(job_id)
        if entry is None:
            return None
        stored_at, row = entry
        if time.monotonic() - stored_at > MAX_AGE_SECONDS:
            del self._rows[job_id]
            return None
        self._rows.move_to_end(job_id)
        return row

    def changed_since(self, job_id: str, version: int) -> bool:
        """Was an event of ``job_id`` (or a reset) processed after ``version``?"""
        if self._touch_floor > version:
            return True
        return self._touch.get(job_id, 0) > version

    def put(self, job_id: str, row: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        self._rows[job_id] = (time.monotonic(), row)
        self._rows.move_to_end(job_id)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


class ReadModel:
    """Job rows for the hot read paths: from the cache while the hub is live and caught up, else read through.
    One per process (``runtime.reads``); :meth:`attach` wires it to the process's hub when that starts."""

    def __init__(self, db: Database, signals: Signals, cache_size: int) -> None:
        self.db = db
        self.signals = signals
        self.cache = JobCache(cache_size)
        self.hub: Hub | None = None
        #: other processes may write (PostgreSQL: replicas, workers): confirm hits against the log's newest id
        self.shared = not db.is_sqlite
        self._probe_next: asyncio.Future[int] | None = None  # the probe that starts after the running one
        self._probe_running: asyncio.Task[None] | None = None

    def attach(self, hub: Hub) -> None:
        """Keep the cache fresh from ``hub`` (called when the hub starts; without it every read goes through)."""
        if self.hub is not hub:
            hub.add_listener(self.cache.on_events, self.cache.on_reset)
        self.hub = hub

    def detach(self) -> None:
        """Stop serving from the cache (the hub is closing); reads go through until it is attached again."""
        self.cache.on_reset()

    async def load_job_row(self, job_id: str) -> dict[str, Any] | None:
        """ONE Core SELECT on a reader connection, no cache."""
        async with self.db.reader.connect() as conn:
            row = (await conn.execute(_SELECT_ONE, {"job_id": job_id})).first()
        return dict(row._mapping) if row is not None else None

    async def _newest_event_id(self) -> int:
        """The newest committed event id, from a probe that started after this call (shared by every caller
        that arrives while the previous probe is still running)."""
        future = self._probe_next
        if future is None:
            future = self._probe_next = asyncio.get_running_loop().create_future()
            if self._probe_running is None:
                self._launch_probe()
        return await asyncio.shield(future)

    def _launch_probe(self) -> None:
        future, self._probe_next = self._probe_next, None
        assert future is not None
        self._probe_running = asyncio.create_task(self._probe(future))

    async def _probe(self, future: asyncio.Future[int]) -> None:
        try:
            async with self.db.reader.connect() as conn:
                newest = (await conn.execute(_NEWEST_EVENT)).scalar()
            future.set_result(int(newest or 0))
        except Exception as exc:  # noqa: BLE001 - every waiter sees the failure (and answers 503)
            future.set_exception(exc)
        finally:
            self._probe_running = None
            if self._probe_next is not None:
                self._launch_probe()

    async def get_job_row(self, job_id: str) -> dict[str, Any] | None:
        """A job's columns as a plain dict (a fresh copy; mutate freely), or None. No owner check here."""
        hub, cache = self.hub, self.cache
        if hub is None or not hub.live or not hub.running or cache.size <= 0:
            return await self.load_job_row(job_id)
        if self.signals.events_seq == hub.caught_up_seq and cache.get(job_id) is not None:
            if self.shared and await self._newest_event_id() > hub.delivered_id:
                row = None  # committed elsewhere, not delivered here yet: read through
            else:
                row = cache.get(job_id)  # again: the hub may have evicted it while the probe ran
            if row is not None:
                cache.hits += 1
                return dict(row)
        cache.misses += 1
        version = cache.version
        row = await self.load_job_row(job_id)
        # No await from here on: the hub cannot process an event between this check and the insert.
        if row is not None and hub.live and not cache.changed_since(job_id, version):
            cache.put(job_id, row)
            return dict(row)
        return row
