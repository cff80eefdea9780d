"""Anonymous clients: an app install sends the X-Client-Id it generated; the first request registers it.

Registration is an upsert, and ``last_seen_at`` is written at most every :data:`TOUCH_INTERVAL_SECONDS` per
process, so a client polling its jobs does not turn every read into a database write.
"""

from __future__ import annotations

import re
import time
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import Database, retry_busy, utc_now
from genloom.identity.errors import InvalidClientId
from genloom.identity.models import Client

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TOUCH_INTERVAL_SECONDS = 300.0
#: the per-process memory of recently seen clients is dropped when it grows past this many entries
SEEN_CACHE_MAX = 100_000

clients_t = cast(Table, Client.__table__)


def check_client_id(value: str, *, field: str = "X-Client-Id") -> str:
    value = value.strip()
    if not CLIENT_ID_RE.match(value):
        raise InvalidClientId(field=field)
    return value


def _upsert(dialect: str, values: dict[str, Any]) -> Any:
    if dialect == "postgresql":
        pg = postgresql.insert(clients_t).values(**values)
        return pg.on_conflict_do_update(index_elements=[clients_t.c.id], set_={"last_seen_at": pg.excluded.last_seen_at})
    lite = sqlite.insert(clients_t).values(**values)
    return lite.on_conflict_do_update(index_elements=[clients_t.c.id], set_={"last_seen_at": lite.excluded.last_seen_at})


async def touch_client(db: Database, seen: dict[str, float], client_id: str, user_agent: str | None = None) -> None:
    """Register ``client_id`` on first use and refresh its last-seen time now and then."""
    now_mono = time.monotonic()
    last = seen.get(client_id)
    if last is not None and now_mono - last < TOUCH_INTERVAL_SECONDS:
        return
    now = utc_now()
    values = {"id": client_id, "user_agent": user_agent[:255] if user_agent else None,
              "first_seen_at": now, "last_seen_at": now}

    async def write() -> None:
        async with db.write() as conn:
            await conn.execute(_upsert(db.dialect, values))

    await retry_busy(write)
    if len(seen) >= SEEN_CACHE_MAX:
        seen.clear()
    seen[client_id] = now_mono


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    return (await session.execute(select(Client).where(Client.id == client_id))).scalar_one_or_none()
