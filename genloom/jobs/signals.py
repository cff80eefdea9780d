"""Wake-ups: tell workers that jobs are waiting and event hubs that events were written.

A wake-up is only ever a hint. Every consumer also polls (``poll_interval_seconds`` for workers,
``event_poll_seconds`` for the hub), so a lost wake-up costs latency, never a job or an event.

Sources, all feeding the same two process-local flags ("jobs" and "events"):

- **this process**: ``wake_local`` after a commit.
- **PostgreSQL**: the queue calls ``notify_in_txn`` inside its transactions, so ``NOTIFY`` is delivered at
  commit. One dedicated asyncpg connection (never one from the SQLAlchemy pool, which would hand it back and
  lose the LISTEN) listens on both channels, and is re-opened with backoff after the server restarts.
- **Redis** (``USE_REDIS``): ``wake_local`` also publishes, fire-and-forget; a subscriber task listens.
- **Other channels**: a feature may :meth:`Signals.listen` on a channel of its own (GenFlow's collaborative
  editing relays updates and cursors so); the same LISTEN connection carries it, payloads included.
- **SQLite across processes**: a thread watches ``PRAGMA data_version`` on its own sqlite3 connection every
  ``SQLITE_WATCH_SECONDS`` (4 ms); the value changes whenever another connection commits, so ``genloom worker``
  processes on one SQLite file react in milliseconds without any server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from genloom.core.db import Database
from genloom.core.outage import is_database_unavailable, next_delay
from genloom.core.settings import Settings

log = logging.getLogger("genloom.signals")

JOBS_CHANNEL = "genloom_jobs"
EVENTS_CHANNEL = "genloom_events"
#: how often the SQLite watcher reads ``PRAGMA data_version``
SQLITE_WATCH_SECONDS = 0.004  # PRAGMA data_version costs microseconds; this bounds cross-process wake-up latency
#: reconnect backoff for the LISTEN connection and the Redis subscriber (doubling, with jitter)
BACKOFF_START, BACKOFF_CAP = 0.1, 5.0

#: a payload of another channel, and "the LISTEN connection was (re)opened or lost: something may be missed"
OnPayload = Callable[[str], None]
OnReset = Callable[[], None]


class Signals:
    """Process-local wake-ups, fed by this process, PostgreSQL LISTEN, Redis pub/sub or SQLite's data_version.

    ``events_seq`` counts "events may have been written" wake-ups (from any source). The hub records the
    value it has caught up with, which lets the read model tell whether a cached entry might be older than a
    commit it was told about (see ``genloom/events/readmodel.py``).
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._jobs = asyncio.Event()
        self._events = asyncio.Event()
        #: bumped by every events wake-up; consumers wait for it to move past what they saw
        self.events_seq = 0
        self._events_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token = os.urandom(8).hex()  # tags our own Redis messages so we can skip them
        self._redis: Any = None
        self._publish_pending: set[str] = set()
        self._publisher: asyncio.Task[None] | None = None
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: True while the PostgreSQL LISTEN connection is up (health, tests)
        self.listening = False
        #: True while the Redis subscriber is subscribed
        self.subscribed = False
        self._channels: dict[str, tuple[OnPayload, OnReset]] = {}
        self._pg_conn: Any = None

    # -- producers ---------------------------------------------------------------------------------------
    async def notify_in_txn(self, conn: AsyncConnection, *, jobs: bool = False, events: bool = True) -> None:
        """Inside a write transaction: PostgreSQL delivers these at commit, to every process."""
        if self.db.is_sqlite:
            return
        if jobs and events:
            await conn.execute(text("SELECT pg_notify(:a, ''), pg_notify(:b, '')"), {"a": JOBS_CHANNEL, "b": EVENTS_CHANNEL})
        elif jobs:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": JOBS_CHANNEL})
        elif events:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": EVENTS_CHANNEL})

    def listen(self, channel: str, on_payload: OnPayload, on_reset: OnReset) -> None:
        """Also LISTEN on ``channel`` (PostgreSQL): ``on_payload(payload)`` for each NOTIFY, ``on_reset()`` each
        time the connection opens or is lost (notifications sent meanwhile are gone: read what was missed)."""
        self._channels[channel] = (on_payload, on_reset)
        conn = self._pg_conn
        if conn is not None and self._loop is not None:
            self._loop.create_task(self._add_channel(conn, channel))

    async def _add_channel(self, conn: Any, channel: str) -> None:
        on_payload, on_reset = self._channels[channel]
        try:
            await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_payload(payload))
        except Exception as exc:  # noqa: BLE001 - the connection is going away: the reconnect adds it again
            log.debug("signals.listen_channel_failed channel=%s error=%s", channel, type(exc).__name__)
            return
        on_reset()

    def _reset_channels(self) -> None:
        for _on_payload, on_reset in self._channels.values():
            on_reset()

    @staticmethod
    async def notify(conn: AsyncConnection | AsyncSession, channel: str, payload: str) -> None:
        """``NOTIFY channel, payload`` (PostgreSQL; at most 8,000 bytes): inside a transaction it is sent
        at commit, and only if the transaction commits."""
        await conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})

    def wake_local(self, *, jobs: bool = False, events: bool = True) -> None:
        """After commit: wake this process's workers and hub at once (and other processes through Redis)."""
        self._set(jobs=jobs, events=events)
        if self.settings.use_redis and self._redis is not None:
            if jobs:
                self._publish_pending.add(JOBS_CHANNEL)
            if events:
                self._publish_pending.add(EVENTS_CHANNEL)
            if self._publish_pending and (self._publisher is None or self._publisher.done()) and self._loop:
                self._publisher = self._loop.create_task(self._publish())

    def wake_after_commit(self, session: object) -> None:
        """Call ``wake_local(jobs=True, events=True)`` once ``session`` (an AsyncSession) commits — never before,
        so a worker cannot look for a job the request has not committed yet. Once per transaction."""
        if not isinstance(session, AsyncSession):
            return
        sync = session.sync_session
        if sync.info.get("genloom_wake"):
            return
        sync.info["genloom_wake"] = True

        def _fire(s: Any) -> None:
            s.info.pop("genloom_wake", None)
            self.wake_local(jobs=True, events=True)

        def _reset(s: Any) -> None:
            s.info.pop("genloom_wake", None)

        event.listen(sync, "after_commit", _fire, once=True)
        event.listen(sync, "after_soft_rollback", _reset, once=True)

    def _set(self, *, jobs: bool, events: bool) -> None:
        if jobs:
            self._jobs.set()
        if events:
            self._events.set()
            self.events_seq += 1
            self._events_changed.set()

    def _set_threadsafe(self, *, jobs: bool, events: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(lambda: self._set(jobs=jobs, events=events))

    # -- consumers ---------------------------------------------------------------------------------------
    async def wait_jobs(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a jobs wake-up (one consumer: the worker loop)."""
        await self._wait(self._jobs, timeout)

    async def wait_events(self, timeout: float) -> None:
        """Wait up to ``timeout`` for an events wake-up (single-consumer flag; see ``wait_events_since``)."""
        await self._wait(self._events, timeout)

    async def wait_events_since(self, seen: int, timeout: float) -> int:
        """Wait until ``events_seq`` moves past ``seen`` (or ``timeout``); returns the current value.

        Safe for any number of consumers: each keeps its own ``seen``."""
        while self.events_seq == seen:
            self._events_changed.clear()
            try:
                await asyncio.wait_for(self._events_changed.wait(), timeout)
            except TimeoutError:
                break
        return self.events_seq

    @staticmethod
    async def _wait(flag: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flag.wait(), timeout)
        flag.clear()

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the cross-process listeners this configuration needs."""
        self._loop = asyncio.get_running_loop()
        if self.db.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._pg_listen_forever(), name="genloom-pg-listen"))
        if self.settings.use_redis:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(self.settings.redis_url, socket_connect_timeout=5)
            self._tasks.append(asyncio.create_task(self._redis_subscribe_forever(), name="genloom-redis-sub"))
        if self.db.is_sqlite:
            path = make_url(self.db.url).database
            if path and path != ":memory:" and not path.startswith("file::memory:"):
                self._watch_stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch_sqlite, args=(Path(path),), name="genloom-sqlite-watch", daemon=True
                )
                self._watcher.start()

    async def close(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.join, 2.0)
            self._watcher = None
        tasks = [*self._tasks, *([self._publisher] if self._publisher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._publisher = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    # -- PostgreSQL LISTEN -------------------------------------------------------------------------------
    def _asyncpg_args(self) -> tuple[str, dict[str, Any]]:
        """DSN and keyword arguments for asyncpg from the SQLAlchemy URL (``?ssl=`` becomes ``ssl=``; other
        SQLAlchemy-only query options are dropped, asyncpg would send them as server settings)."""
        url = make_url(self.db.url)
        kwargs: dict[str, Any] = {}
        ssl = url.query.get("ssl") or url.query.get("sslmode")
        if ssl:
            kwargs["ssl"] = ssl if isinstance(ssl, str) else ssl[0]
        dsn = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        return dsn, kwargs

    async def _pg_listen_forever(self) -> None:
        import asyncpg

        failures = 0
        while True:
            conn: Any = None
            try:
                dsn, kwargs = self._asyncpg_args()
                conn = await asyncpg.connect(dsn, timeout=10, server_settings={"application_name": "genloom-listen"},
                                             **kwargs)
                lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

                def _on_notify(_c: Any, _pid: int, channel: str, _payload: str) -> None:
                    self._set(jobs=channel == JOBS_CHANNEL, events=channel == EVENTS_CHANNEL)

                def _on_close(_c: Any, lost: asyncio.Future[None] = lost) -> None:
                    if not lost.done():
                        lost.set_result(None)

                conn.add_termination_listener(_on_close)
                await conn.add_listener(JOBS_CHANNEL, _on_notify)
                await conn.add_listener(EVENTS_CHANNEL, _on_notify)
                self._pg_conn = conn
                for channel in list(self._channels):
                    await self._add_channel(conn, channel)
                self.listening = True
                if failures:
                    self.db.reachability.recovered()
                failures = 0
                # Anything committed while we were not listening is recovered by the consumers' catch-up reads.
                self._set(jobs=True, events=True)
                log.info("signals.listening channels=%s,%s", JOBS_CHANNEL, EVENTS_CHANNEL)
                while not lost.done():
                    # A dead TCP peer does not always close the socket: probe now and then.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(lost), 5.0)
                    if not lost.done():
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 5.0)
                log.warning("signals.listen_lost reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the listener must outlive any database hiccup
                if is_database_unavailable(exc):
                    self.db.reachability.failed(exc)
                log.warning("signals.listen_failed error=%s failures=%d", type(exc).__name__, failures + 1)
            finally:
                self.listening = False
                self._pg_conn = None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2.0)
            self._set(jobs=True, events=True)
            self._reset_channels()
            failures += 1
            # jittered, so the listeners of many processes do not all reconnect in the same instant
            await asyncio.sleep(next_delay(failures, start=BACKOFF_START, cap=BACKOFF_CAP))

    # -- Redis pub/sub -----------------------------------------------------------------------------------
    def _redis_channel(self, name: str) -> str:
        return f"{self.settings.redis_prefix}:{name}"

    async def _publish(self) -> None:
        """Publish pending wake-ups; coalesces bursts into one message per channel."""
        while self._publish_pending:
            channels = sorted(self._publish_pending)
            self._publish_pending.clear()
            try:
                for name in channels:
                    await self._redis.publish(self._redis_channel(name), self._token)
            except Exception as exc:  # noqa: BLE001 - a wake-up is a hint; polling covers a lost one
                log.debug("signals.publish_failed error=%s", type(exc).__name__)
                return

    async def _redis_subscribe_forever(self) -> None:
        failures = 0
        jobs_ch, events_ch = self._redis_channel(JOBS_CHANNEL), self._redis_channel(EVENTS_CHANNEL)
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(jobs_ch, events_ch)
                self.subscribed = True
                if failures:
                    log.warning("signals.redis_resubscribed after_failures=%d", failures)
                failures = 0
                self._set(jobs=True, events=True)
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    data = message.get("data")
                    if data in (self._token, self._token.encode()):
                        continue  # our own publish: this process was woken already
                    channel = message.get("channel")
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    self._set(jobs=channel == jobs_ch, events=channel == events_ch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep subscribing whatever Redis does
                log.warning("signals.redis_lost error=%s failures=%d", type(exc).__name__, failures + 1)
            finally:
                self.subscribed = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            self._set(jobs=True, events=True)
            failures += 1
            await asyncio.sleep(next_delay(failures, start=BACKOFF_START, cap=BACKOFF_CAP))

    # -- SQLite data_version -----------------------------------------------------------------------------
    def _watch_sqlite(self, path: Path) -> None:
        """Thread: wake both flags whenever another connection commits to the database file."""
        conn: sqlite3.Connection | None = None
        last: int | None = None
        while not self._watch_stop.is_set():
            try:
                if conn is None:
                    if not path.exists():
                        self._watch_stop.wait(0.5)
                        continue
                    conn = sqlite3.connect(str(path), timeout=0.05, isolation_level=None, check_same_thread=False)
                    last = None
                version = int(conn.execute("PRAGMA data_version").fetchone()[0])
                if last is not None and version != last:
                    self._set_threadsafe(jobs=True, events=True)
                last = version
            except sqlite3.Error:
                # Busy or the file went away: reopen on the next round; polling covers the gap.
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                conn = None
            self._watch_stop.wait(SQLITE_WATCH_SECONDS)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
