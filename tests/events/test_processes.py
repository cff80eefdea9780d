"""Across processes: a separate ``genloom worker`` is woken by this process's commit, and this process's hub by
the worker's, with polling turned down to once every 60 s on both sides. SQLite goes through PRAGMA
data_version, PostgreSQL through LISTEN/NOTIFY. Nothing here measures speed: with polling that slow, the job
can only finish within the test's timeout if the wake-ups work."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from genloom.core.principal import ANONYMOUS
from genloom.events.hub import Hub
from genloom.jobs.models import WorkerRow
from genloom.runtime import Runtime
from tests.events.conftest import new_job
from tests.processes import ROOT, genloom_cmd, genloom_env, stop

SLOW_POLL = "60"


@pytest.mark.slow
async def test_separate_worker_and_hub_wake_each_other(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    runtime.settings.event_poll_seconds = float(SLOW_POLL)
    runtime.settings.poll_interval_seconds = float(SLOW_POLL)
    from genloom.assembly import start_hub, stop_hub

    await start_hub(runtime)
    env = genloom_env(database_url, tmp_path, GENLOOM_POLL_INTERVAL_SECONDS=SLOW_POLL, GENLOOM_DB_AUTO_MIGRATE="false")
    proc = subprocess.Popen(genloom_cmd("worker", "--concurrency", "2"), env=env, cwd=str(ROOT),  # noqa: ASYNC220
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        hub: Hub = runtime.hub

        async def worker_registered() -> None:
            while True:
                async with runtime.db.reader.connect() as conn:
                    if (await conn.execute(select(func.count()).select_from(WorkerRow))).scalar():
                        return
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                await asyncio.sleep(0.05)

        await asyncio.wait_for(worker_registered(), 30)
        await asyncio.sleep(0.5)  # past its first claim round: from now on only a wake-up makes it claim
        sub = hub.subscribe(ANONYMOUS)
        job_id = await new_job(runtime, hello="world")
        types: list[str] = []

        async def until_done() -> None:
            async for event in sub:
                if event["job_id"] == job_id:
                    types.append(event["type"])
                    if event["type"] == "succeeded":
                        return

        await asyncio.wait_for(until_done(), 30)
        assert types == ["queued", "started", "succeeded"]
        sub.close()
    finally:
        stop(proc, timeout=5)  # its loop sleeps in a 60 s poll; SIGKILL after 5 s is fine here
        await stop_hub(runtime)
