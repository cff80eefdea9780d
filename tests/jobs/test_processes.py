"""Real worker processes: exactly-once under two workers, rescue after SIGKILL, `genloom generate --wait`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from genloom.core.principal import ANONYMOUS
from genloom.jobs import janitor, queue, service
from genloom.jobs.models import Job, JobEvent, WorkerRow
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.processes import genloom_cmd, genloom_env, stop

pytestmark = pytest.mark.slow


async def wait_until(predicate, timeout: float = 120.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached in time")


async def count(runtime: Runtime, *where) -> int:
    async with runtime.db.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Job).where(*where))).scalar_one())


async def test_two_worker_processes_run_each_job_exactly_once(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    env = genloom_env(database_url, tmp_path)
    procs = [subprocess.Popen(genloom_cmd("worker", "--concurrency", "8"), env=env) for _ in range(2)]
    try:
        # both processes registered (and so past start-up) before any job exists: they compete for every one
        await wait_until(lambda: _workers_registered(runtime, 2), timeout=60)
        async with runtime.db.session() as s:
            for i in range(500):
                # a few milliseconds each, so that neither process can finish the lot before the other wakes
                await service.create_job(s, runtime, ANONYMOUS, kind="sleep", input={"seconds": 0.02})
        await wait_until(lambda: _all_succeeded(runtime, 500))
    finally:
        for p in procs:
            stop(p)
        assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    async with runtime.db.reader.connect() as conn:
        attempts = (await conn.execute(select(Job.attempts, func.count()).group_by(Job.attempts))).all()
        started = (
            await conn.execute(
                select(JobEvent.job_id, func.count()).where(JobEvent.type == "started").group_by(JobEvent.job_id)
            )
        ).all()
        workers = (await conn.execute(select(func.count(func.distinct(Job.worker_id))))).scalar_one()
    assert attempts == [(1, 500)]
    assert len(started) == 500 and all(n == 1 for _, n in started)
    assert workers == 2  # both processes took part


async def _workers_registered(runtime: Runtime, n: int) -> bool:
    async with runtime.db.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(WorkerRow))).scalar_one()) >= n


async def _all_succeeded(runtime: Runtime, n: int) -> bool:
    return await count(runtime, Job.status == "succeeded") == n


async def test_sigkilled_worker_job_is_rescued(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    async with runtime.db.session() as s:
        job = await service.create_job(s, runtime, ANONYMOUS, kind="sleep", input={"seconds": 1.5})
    env = genloom_env(database_url, tmp_path, GENLOOM_LEASE_SECONDS="2")
    proc = subprocess.Popen(genloom_cmd("worker", "--concurrency", "1"), env=env)
    try:
        await wait_until(lambda: _status_is(runtime, job["id"], "running"), timeout=60)
        async with runtime.db.reader.connect() as conn:
            dead_worker = (await conn.execute(select(Job.worker_id).where(Job.id == job["id"]))).scalar_one()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        stop(proc)
    # nobody renews the lease now; once it lapses the janitor puts the job back
    runtime.settings.lease_seconds = 2
    await wait_until(lambda: _rescued(runtime), timeout=30, every=0.25)
    await drain(runtime)
    done = await _get(runtime, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2
    # the dead worker's late report changes nothing
    assert await queue.complete(runtime, job["id"], dead_worker, {"late": True}) is False
    assert await queue.fail(runtime, job["id"], dead_worker, code="late", message="late", retryable=False) is None
    after = await _get(runtime, job["id"])
    assert after["status"] == "succeeded" and after["result"]["slept"] == 1.5


async def _rescued(runtime: Runtime) -> bool:
    return (await janitor.rescue_expired(runtime))["requeued"] == 1


async def _status_is(runtime: Runtime, job_id: str, status: str) -> bool:
    return (await _get(runtime, job_id))["status"] == status


async def _get(runtime: Runtime, job_id: str) -> dict:
    async with runtime.db.read_session() as s:
        return await service.get_job(s, ANONYMOUS, job_id)


def test_generate_wait_end_to_end(database_url: str, tmp_path: Path) -> None:
    env = genloom_env(database_url, tmp_path)
    subprocess.run(genloom_cmd("migrate"), env=env, check=True, cwd=tmp_path)
    out = subprocess.run(
        genloom_cmd("generate", "一只赛博朋克风格的猫", "--seed", "7", "--width", "256", "--height", "192", "--wait"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    path = Path(lines[-1])
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.resolve().is_relative_to((tmp_path / "media").resolve())
    assert "queued" in out.stdout
    bar = next(line for line in lines if "100%" in line)
    assert bar.split()[0] == "done" and "storing" not in bar  # the bar ends on the finished job's phase
    from PIL import Image

    with Image.open(path) as im:
        assert im.size == (256, 192)


async def test_sigterm_lets_running_jobs_finish(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    async with runtime.db.session() as s:
        job = await service.create_job(s, runtime, ANONYMOUS, kind="sleep", input={"seconds": 1.0})
    env = genloom_env(database_url, tmp_path, GENLOOM_SHUTDOWN_GRACE_SECONDS="20")
    proc = subprocess.Popen(genloom_cmd("worker", "--concurrency", "2"), env=env)
    try:
        await wait_until(lambda: _status_is(runtime, job["id"], "running"), timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop(proc)
    done = await _get(runtime, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1
