"""Housekeeping: rescue jobs whose lease lapsed, prune finished jobs and their events, forget dead workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from genloom.core.db import utc_now
from genloom.core.outage import Outage, is_database_unavailable
from genloom.jobs import leases
from genloom.jobs.models import WorkerRow
from genloom.jobs.states import TERMINAL
from genloom.jobs.tables import events_t, jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

log = logging.getLogger("genloom.janitor")

PRUNE_EVERY = 600.0  # seconds between retention passes (rescue runs every janitor interval)


async def rescue_expired(runtime: Runtime) -> dict[str, int]:
    """Running jobs whose lease lapsed: back to queued while attempts remain, else failed (lease_expired)."""
    requeued, failed = await leases.rescue_expired(runtime)
    if requeued or failed:
        log.warning("janitor.rescued requeued=%d failed=%d", requeued, failed)
    return {"requeued": requeued, "failed": failed}


async def prune(runtime: Runtime, *, older_than: timedelta | None = None) -> dict[str, int]:
    """Delete finished top-level jobs (children go with them) and their events past the retention age."""
    age = older_than if older_than is not None else timedelta(hours=runtime.settings.retention_hours)
    cutoff = utc_now() - age
    done = [s.value for s in TERMINAL]
    old_roots = select(jobs_t.c.id).where(
        jobs_t.c.parent_id.is_(None), jobs_t.c.status.in_(done), jobs_t.c.finished_at < cutoff
    )
    async with runtime.db.write() as conn:
        ids = [r.id for r in (await conn.execute(old_roots)).all()]
        pruned_jobs = pruned_events = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            family = select(jobs_t.c.id).where((jobs_t.c.id.in_(chunk)) | (jobs_t.c.parent_id.in_(chunk)))
            res = await conn.execute(delete(events_t).where(events_t.c.job_id.in_(family)))
            pruned_events += res.rowcount or 0
            await conn.execute(delete(jobs_t).where(jobs_t.c.parent_id.in_(chunk)))
            res = await conn.execute(delete(jobs_t).where(jobs_t.c.id.in_(chunk)))
            pruned_jobs += res.rowcount or 0
        stale = utc_now() - timedelta(seconds=max(300.0, runtime.settings.lease_seconds * 5))
        res = await conn.execute(delete(WorkerRow).where(WorkerRow.seen_at < stale))
        workers = res.rowcount or 0
    if pruned_jobs or workers:
        log.info("janitor.pruned jobs=%d events=%d workers=%d", pruned_jobs, pruned_events, workers)
    return {"jobs": pruned_jobs, "events": pruned_events, "workers": workers}


async def run_janitor_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    """Rescue every ``janitor_interval_seconds``, prune every ten minutes, until ``stop`` is set."""
    last_prune = 0.0
    loop = asyncio.get_running_loop()
    outage = Outage("janitor", log, runtime.db.reachability)
    while not stop.is_set():
        wait = runtime.settings.janitor_interval_seconds
        try:
            await rescue_expired(runtime)
            if loop.time() - last_prune >= PRUNE_EVERY:
                last_prune = loop.time()
                await prune(runtime)
            outage.ok()
        except Exception as exc:  # noqa: BLE001 - try again next round
            if is_database_unavailable(exc):
                # one line per outage (not per round), and a jittered retry no later than the next round
                wait = min(wait, outage.failed(exc))
            else:
                log.warning("janitor.failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
