"""The cluster's storage proof: every asset row has its object, and every object without a row was left by a worker
SIGKILLed between its put and its commit (the only way to leave one), which the orphan sweep then deletes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from genloom.core.db import Database, utc_now
from genloom.media.sweep import safety_age, sweep_orphans
from genloom.storage.factory import create_blob_store
from tests.conftest import make_settings

if TYPE_CHECKING:
    from tests.cluster.harness import Cluster
    from tests.cluster.report import Report


def _job_of(key: str) -> str | None:
    """``jobs/YYYY/MM/DD/{job_id}/{asset_id}.{ext}`` → job id (see genloom.storage.keys.job_asset_key)."""
    parts = key.split("/")
    return parts[4] if len(parts) == 6 and parts[0] == "jobs" else None


async def prove_storage(cluster: Cluster, row_keys: set[str], killed_jobs: set[str], report: Report) -> None:
    """Fill the report's storage figures; ``killed_jobs`` are the jobs whose claim a worker kill ended."""
    stored = await asyncio.to_thread(cluster.s3_keys)
    report.objects = len(stored)
    report.missing_objects = len(row_keys - stored)
    orphans = stored - row_keys
    left_by_kill = {key for key in orphans if _job_of(key) in killed_jobs}
    report.orphans_left_by_kill = len(left_by_kill)
    report.orphan_objects = len(orphans - left_by_kill)  # no process died there: a clean-up that did not happen
    # the sweep, as the janitor runs it, a safety age later: exactly the orphans go, no named object
    report.swept = (await _sweep(cluster))["orphans"]
    after = await asyncio.to_thread(cluster.s3_keys)
    report.orphans_after_sweep = len(after - row_keys)
    report.missing_objects += len(row_keys - after) - len(row_keys - stored)


async def _sweep(cluster: Cluster) -> dict[str, int]:
    assert cluster.pg is not None
    env: dict[str, Any] = {k.removeprefix("GENLOOM_").lower(): v for k, v in cluster.env().items()
                           if k.startswith("GENLOOM_S3_") or k == "GENLOOM_STORAGE"}
    settings = make_settings(database_url=cluster.pg.url, lease_seconds=10, **env)
    db = Database(settings)
    try:
        later = utc_now() + safety_age(settings) + timedelta(minutes=1)
        return await sweep_orphans(db, create_blob_store(settings), settings, now=later)
    finally:
        await db.dispose()
