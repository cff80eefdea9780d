"""HuaBan housekeeping (``genloom janitor`` and the server's janitor loop):

- uploads presigned but never committed after ``GENLOOM_HUABAN_UPLOAD_TTL_HOURS`` (the object, if any, and the row);
- artwork ids reserved by a presign that never became an artwork;
- objects under ``clients/`` that no asset or upload names (a crash between writing bytes and committing rows);
- generation checkpoints whose job the queue's retention already pruned;
- expired rate-limit counters.

Each pass deletes a bounded number of things so that a large backlog is worked off over several passes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from genloom.artworks.models import Artwork, Generation, Upload
from genloom.core.db import utc_now
from genloom.jobs.runtime import Runtime
from genloom.jobs.tables import jobs_t
from genloom.media.models import Asset
from genloom.ratelimits.limiter import RateLimiter

log = logging.getLogger("genloom.artworks.janitor")
BATCH = 500
CLIENTS_PREFIX = "clients/"


async def sweep(runtime: Runtime, limiter: RateLimiter | None = None) -> dict[str, int]:
    cutoff = utc_now() - timedelta(hours=runtime.settings.huaban_upload_ttl_hours)
    counts = {"uploads": 0, "reservations": 0, "orphans": 0, "checkpoints": 0, "counters": 0}
    async with runtime.db.read_session() as session:
        stale = list((await session.execute(
            select(Upload.key).where(Upload.state == "pending", Upload.created_at < cutoff).limit(BATCH)
        )).scalars())
    for key in stale:
        await runtime.blobs.delete(key)
    if stale:
        async with runtime.db.write() as conn:
            await conn.execute(delete(Upload).where(Upload.key.in_(stale), Upload.state == "pending"))
    counts["uploads"] = len(stale)
    async with runtime.db.write() as conn:
        res = await conn.execute(delete(Artwork).where(
            Artwork.status == "reserved", Artwork.created_at < cutoff,
            ~exists().where(Upload.artwork_id == Artwork.id)))
        counts["reservations"] = int(res.rowcount or 0)
        res = await conn.execute(delete(Generation).where(~exists().where(jobs_t.c.id == Generation.job_id)))
        counts["checkpoints"] = int(res.rowcount or 0)
    counts["orphans"] = await _orphans(runtime, cutoff)
    if limiter is not None:
        counts["counters"] = await limiter.purge_expired()
    if any(counts.values()):
        log.info("huaban.janitor %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


async def _orphans(runtime: Runtime, cutoff: datetime) -> int:
    old = [s for s in await runtime.blobs.list(CLIENTS_PREFIX) if s.modified_at < cutoff]
    removed = 0
    for start in range(0, len(old), BATCH):
        chunk = [s.key for s in old[start : start + BATCH]]
        async with runtime.db.read_session() as session:
            known = set((await session.execute(select(Asset.key).where(Asset.key.in_(chunk)))).scalars())
            known |= set((await session.execute(select(Upload.key).where(Upload.key.in_(chunk)))).scalars())
        for key in chunk:
            if key not in known:
                await runtime.blobs.delete(key)
                removed += 1
    return removed
