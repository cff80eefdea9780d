"""Queue benchmark: enqueue rate, drain rate with 1 and 2 worker processes, and enqueue→SSE event latency.

    python bench/queue.py                      # SQLite, plus PostgreSQL when reachable
    python bench/queue.py --jobs 5000 --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test

For each database and worker count it builds a fresh database, enqueues ``--jobs`` no-op jobs (16 concurrent
clients, one job per transaction, as the API does), starts ``genloom worker`` processes and measures the drain
rate from the first claim to the last success (database timestamps). Latency: a ``genloom serve --workers 0``
with the worker processes, an SSE client on ``/v1/events``, and paced ``POST /v1/jobs`` calls; the time from
sending the POST to receiving that job's ``succeeded`` event.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "queue" would shadow the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genloom.assembly import build_runtime, start_runtime  # noqa: E402
from genloom.core.principal import ANONYMOUS  # noqa: E402
from genloom.core.settings import Settings  # noqa: E402
from genloom.jobs import service  # noqa: E402
from genloom.jobs.models import Job  # noqa: E402
from tests.processes import free_port, genloom_cmd, genloom_env, stop  # noqa: E402


async def fresh_pg(base_url: str) -> str:
    url = make_url(base_url)
    name = f"genloom_bench_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_pg(db_url: str) -> None:
    url = make_url(db_url)
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    await engine.dispose()


def settings_for(db_url: str, data: Path) -> Settings:
    return Settings(_env_file=None, database_url=db_url, data_dir=data, workers=0, log_level="WARNING")  # type: ignore[call-arg]


async def enqueue_many(db_url: str, data: Path, n: int, clients: int = 16) -> float:
    runtime = build_runtime(settings_for(db_url, data))
    await start_runtime(runtime, migrate=True)
    async def client(c: int) -> None:
        for i in range(c, n, clients):
            async with runtime.db.session() as s:
                await service.create_job(s, runtime, ANONYMOUS, kind="noop", input={"c": c, "i": i})

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    elapsed = time.perf_counter() - started
    await runtime.close()
    return n / elapsed


async def drain_rate(db_url: str, expected: int) -> tuple[float, float]:
    engine = create_async_engine(db_url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(func.count(), func.min(Job.started_at), func.max(Job.finished_at)).where(Job.status == "succeeded")
            )
        ).one()
    await engine.dispose()
    count, first, last = row
    span = (last - first).total_seconds() if first and last else float("nan")
    return count / span if span else float("nan"), count / expected


async def wait_done(db_url: str, expected: int, timeout: float) -> None:
    engine = create_async_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                done = (await conn.execute(select(func.count()).where(Job.status == "succeeded"))).scalar_one()
            if done >= expected:
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    raise TimeoutError("drain did not finish")


def start_workers(env: dict[str, str], count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(genloom_cmd("worker", "--concurrency", str(concurrency)), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


async def latency(env: dict[str, str], samples: int, embedded: int = 0) -> tuple[float, float]:
    port = free_port()
    server = subprocess.Popen(genloom_cmd("serve", "--port", str(port), "--workers", str(embedded)), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(300):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            sent: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = asyncio.Event()

            async def listen() -> None:
                async with http.stream("GET", "/v1/events", timeout=None) as stream:
                    event = ""
                    async for line in stream.aiter_lines():
                        if line.startswith("event:"):
                            event = line.split(":", 1)[1].strip()
                        elif line.startswith("data:") and event == "succeeded":
                            job_id = json.loads(line[5:])["job_id"]
                            seen.setdefault(job_id, time.perf_counter())
                            if len(seen) >= samples:
                                done.set()
                                return

            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.5)
            for _ in range(samples):
                t0 = time.perf_counter()
                r = await http.post("/v1/jobs", json={"kind": "noop", "input": {}})
                sent[r.json()["id"]] = t0
                await asyncio.sleep(0.02)
            await asyncio.wait_for(done.wait(), 60)
            listener.cancel()
        lat = sorted((seen[j] - sent[j]) * 1000 for j in sent if j in seen)
        return statistics.median(lat), lat[int(len(lat) * 0.95) - 1]
    finally:
        stop(server)


async def run_case(db: str, base_url: str, workers: int, jobs: int, concurrency: int, samples: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-"))
    db_url = await fresh_pg(base_url) if db == "postgresql" else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    try:
        enq = await enqueue_many(db_url, tmp, jobs)
        env = genloom_env(db_url, tmp, GENLOOM_LOG_LEVEL="ERROR")
        procs = start_workers(env, workers, concurrency)
        try:
            await wait_done(db_url, jobs, timeout=600)
            drain, share = await drain_rate(db_url, jobs)
            med, p95 = await latency(env, samples) if samples else (float("nan"), float("nan"))
        finally:
            for p in procs:
                stop(p)
        return {"database": db, "workers": f"{workers} process(es)", "enqueue/s": enq, "drain/s": drain,
                "done": share, "latency p50 ms": med, "latency p95 ms": p95}
    finally:
        if db == "postgresql":
            await drop_pg(db_url)


async def embedded_case(db: str, base_url: str, samples: int) -> dict[str, Any]:
    """The default deployment: workers inside `genloom serve` (latency only)."""
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-"))
    db_url = await fresh_pg(base_url) if db == "postgresql" else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    try:
        env = genloom_env(db_url, tmp, GENLOOM_LOG_LEVEL="ERROR")
        subprocess.run(genloom_cmd("migrate"), env=env, check=True, stdout=subprocess.DEVNULL)
        med, p95 = await latency(env, samples, embedded=4)
        nan = float("nan")
        return {"database": db, "workers": "embedded", "enqueue/s": nan, "drain/s": nan, "done": 1.0,
                "latency p50 ms": med, "latency p95 ms": p95}
    finally:
        if db == "postgresql":
            await drop_pg(db_url)


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["database", "workers", "enqueue/s", "drain/s", "latency p50 ms", "latency p95 ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for row in rows:
        cells = [("–" if row[c] != row[c] else f"{row[c]:,.1f}") if isinstance(row[c], float) else str(row[c])
                 for c in cols]
        print("| " + " | ".join(cells) + " |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32, help="slots per worker process")
    parser.add_argument("--samples", type=int, default=200, help="latency samples")
    parser.add_argument("--pg", default=os.environ.get("GENLOOM_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    rows = []
    for db in ("sqlite", "postgresql"):
        if args.only and db != args.only:
            continue
        for workers in (1, 2):
            rows.append(await run_case(db, args.pg, workers, args.jobs, args.concurrency, args.samples))
            print(f"done: {db} x{workers}", file=sys.stderr)
        if args.samples:
            rows.append(await embedded_case(db, args.pg, args.samples))
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
