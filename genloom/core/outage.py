"""Database outages: telling them apart from bugs, remembering them per process, and backing off through them.

A PostgreSQL restart shows up in many shapes: ``the database system is shutting down`` / ``is starting up``
as a plain ``DBAPIError`` (SQLSTATE 57P01–57P03), ``connection was closed in the middle of operation``
(08003), ``ConnectionRefusedError`` while it is down, ``cannot switch to state …; another operation is in
progress`` from a connection that broke mid-query, pool timeouts; on SQLite a writer locked out past the busy
timeout. None of them is the caller's fault and all of them pass: the long-running loops (claim, lease
renewal, completion, janitor, hub, LISTEN) back off with jitter and carry on, and HTTP answers 503.

:class:`Reachability` is the process's own record (one per :class:`~genloom.core.db.Database`), shown in
``GET /v1/queue`` and the workers table. :class:`Outage` is one loop's view: it logs the first failure and
the recovery (not every retry) and hands out the next delay.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from genloom.core.backoff import equal_jitter

#: SQLSTATEs that mean "the server is not there right now": admin/crash shutdown, starting up, too many
#: connections, and the whole connection-exception class 08.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "53400"})
_UNAVAILABLE_TEXT = (
    "the database system is shutting down", "the database system is starting up",
    "the database system is in recovery mode", "the database system is not yet accepting connections",
    "connection was closed", "connection is closed", "underlying connection is closed",
    "another operation is in progress", "cannot switch to state", "terminating connection",
    "server closed the connection", "could not connect to server", "connection refused",
    "too many connections", "database is locked", "database is busy", "connection reset",
)

#: backoff between attempts while the database is away (seconds): doubles from START up to CAP, with jitter
BACKOFF_START, BACKOFF_CAP = 0.2, 5.0


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    """The database (or the network to it) is away, as opposed to a bug or a refused statement."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout | ConnectionError | TimeoutError | InterfaceError):
        return True
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return True  # refused, unreachable host, name resolution failed
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = _sqlstate(exc)
    if code is not None and (code in UNAVAILABLE_SQLSTATES or code.startswith("08")):
        return True
    if isinstance(exc, DBAPIError | sqlite3.OperationalError) or _is_asyncpg_error(exc):
        text = str(exc).lower()
        if isinstance(exc, OperationalError) and not isinstance(exc.orig, sqlite3.OperationalError | type(None)):
            return True  # the driver's "operational" class: connection trouble on PostgreSQL
        return any(marker in text for marker in _UNAVAILABLE_TEXT)
    return False


def _is_asyncpg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("asyncpg")


def describe(exc: BaseException) -> str:
    """A short, secret-free label for logs and ``GET /v1/queue``: the class and the first line, no URLs."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = first[0] if first else ""
    if "://" in text:  # a DSN in the message would carry the password
        text = ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Reachability:
    """What this process last knew of its database: reachable or not, since when, the last error."""

    reachable: bool = True
    since: str = field(default_factory=_now_iso)
    last_error: str | None = None
    last_error_at: str | None = None
    outages: int = 0

    def failed(self, exc: BaseException) -> None:
        self.last_error, self.last_error_at = describe(exc), _now_iso()
        if self.reachable:
            self.reachable, self.since = False, self.last_error_at
            self.outages += 1

    def recovered(self) -> None:
        if not self.reachable:
            self.reachable, self.since = True, _now_iso()

    def snapshot(self) -> dict[str, Any]:
        return {"reachable": self.reachable, "since": self.since, "last_error": self.last_error,
                "last_error_at": self.last_error_at, "outages": self.outages}


class Outage:
    """One loop's way through an outage: ``delay = outage.failed(exc)`` after a failure, ``outage.ok()`` after
    a success. Logs the first failure, one reminder every ``remind_every`` seconds, and the recovery with its
    length; the delay doubles from ``BACKOFF_START`` to ``BACKOFF_CAP`` with "equal jitter" (half fixed, half
    random), so many processes coming back at once do not reconnect in lock-step."""

    def __init__(self, name: str, log: logging.Logger, reachability: Reachability | None = None, *,
                 remind_every: float = 30.0) -> None:
        self.name = name
        self.log = log
        self.reachability = reachability
        self.remind_every = remind_every
        self.failures = 0
        self._down_since: float | None = None
        self._reminded = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException) -> float:
        now = time.monotonic()
        self.failures += 1
        if self.reachability is not None:
            self.reachability.failed(exc)
        delay = next_delay(self.failures)
        if self._down_since is None:
            self._down_since = self._reminded = now
            self.log.warning("%s.database_unreachable error=%s retry_in=%.2fs", self.name, describe(exc), delay)
        elif now - self._reminded >= self.remind_every:
            self._reminded = now
            self.log.warning("%s.database_still_unreachable for=%.1fs error=%s", self.name, now - self._down_since,
                             describe(exc))
        return delay

    def ok(self) -> None:
        if self._down_since is not None:
            self.log.warning("%s.database_reachable after=%.2fs failures=%d", self.name,
                             time.monotonic() - self._down_since, self.failures)
            if self.reachability is not None:
                self.reachability.recovered()
        self._down_since = None
        self.failures = 0


def next_delay(failures: int, *, start: float = BACKOFF_START, cap: float = BACKOFF_CAP) -> float:
    """Equal-jitter exponential backoff: between half and all of ``min(cap, start·2^(failures-1))``."""
    return equal_jitter(failures, base=start, cap=cap)
