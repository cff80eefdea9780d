"""Objects no asset row names: what a process killed between storing bytes and committing rows leaves behind.

Media is written in two phases (:mod:`genloom.media.service`): bytes first, then the Asset rows in a short
transaction, and a failure in between deletes the bytes again. Only a process that dies in that window (SIGKILL,
OOM, power loss) leaves an object without a row. Nothing records a write before it happens, so an orphan is
recognised by age: an object under a prefix genloom writes to, older than the safety age, that no asset names.

**The safety age** must exceed the longest time between a ``put`` and the commit of its row, or the sweep could
delete the bytes of a job that is still about to commit them. That window is one job attempt's "storing" step
(seconds) or one request; a worker frozen in it (a stopped VM, a debugger) loses its lease after
``GENLOOM_LEASE_SECONDS`` and is rescued by the janitor, but could still commit once it runs again. So the
sweep never uses less than :func:`safety_age` = ``max(GENLOOM_MEDIA_ORPHAN_AGE_HOURS, 3 × lease + 5 min)``;
the default (24 h) leaves a day.

**What it touches**: only :data:`OWNED_PREFIXES`, the layouts of :mod:`genloom.storage.keys` that genloom itself
writes (cineMind ``images/`` and ``thumbs/``, native jobs' ``jobs/``). HuaBan's ``clients/`` has its own sweep
(:mod:`genloom.artworks.janitor`, which also knows presigned uploads not committed yet); anything else in the
bucket (another application's files, a backup) is never listed, let alone deleted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from genloom.core.db import Database, utc_now
from genloom.core.settings import Settings
from genloom.media.models import Asset
from genloom.storage.base import BlobStore

log = logging.getLogger("genloom.media.sweep")

#: top-level prefixes whose objects genloom writes through Asset rows (see genloom/storage/keys.py)
OWNED_PREFIXES = ("images/", "thumbs/", "jobs/")
#: keys looked up per query, and the most objects deleted in one pass (a backlog is worked off over passes)
BATCH = 500
MAX_DELETES = 5000


def safety_age(settings: Settings) -> timedelta:
    """How old an unnamed object must be before it is deleted (see the module docstring)."""
    floor = timedelta(seconds=3 * settings.lease_seconds + 300)
    return max(timedelta(hours=settings.media_orphan_age_hours), floor)


async def sweep_orphans(db: Database, blobs: BlobStore, settings: Settings, *,
                        now: datetime | None = None) -> dict[str, int]:
    """Delete objects under :data:`OWNED_PREFIXES` older than :func:`safety_age` that no asset names.

    Returns ``{"checked": objects old enough to be looked up, "orphans": deleted}``."""
    cutoff = (now or utc_now()) - safety_age(settings)
    checked = removed = 0
    for prefix in OWNED_PREFIXES:
        old = [stat.key for stat in await blobs.list(prefix) if stat.modified_at < cutoff]
        checked += len(old)
        for start in range(0, len(old), BATCH):
            if removed >= MAX_DELETES:
                break
            chunk = old[start : start + BATCH]
            async with db.reader.connect() as conn:
                named = set((await conn.execute(select(Asset.key).where(Asset.key.in_(chunk)))).scalars())
            for key in chunk:
                if key in named or removed >= MAX_DELETES:
                    continue
                await blobs.delete(key)
                removed += 1
                log.info("media.orphan_deleted key=%s", key)
    if removed:
        log.warning("media.orphans_swept deleted=%d checked=%d older_than=%s", removed, checked, cutoff.isoformat())
    return {"checked": checked, "orphans": removed}
