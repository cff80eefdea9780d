"""Status-read benchmark: requests/s of the polling endpoints, against a bare FastAPI route as the ceiling.

    python bench/api.py                 # SQLite, plus PostgreSQL when reachable
    python bench/api.py --duration 10 --connections 64

Needs ``wrk`` (Debian package ``wrk``). Starts ``genloom serve --workers 0`` (one uvicorn process) on a fresh
database holding one finished job, then runs ``wrk -t2 -cN`` against ``GET /api/status/{id}`` and
``GET /v1/jobs/{id}``. The reference row serves a constant pydantic model from a bare FastAPI app under the
same uvicorn settings, which is the most any route can reach on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queue import drop_pg, fresh_pg  # noqa: E402
from tests.processes import free_port, genloom_cmd, genloom_env, stop  # noqa: E402

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Status(BaseModel):
        job_id: str
        status: str
        progress: int
        image_url: str
        error: str

    app = FastAPI()

    @app.get("/api/status/{job_id}")
    async def status(job_id: str) -> Status:
        return Status(job_id=job_id, status="finished", progress=100, image_url="", error="")
    """
)


def wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url], capture_output=True, text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} error responses from {url}")
    return rps, latency


def wait_ready(base: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def bare_reference(duration: int, connections: int) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-bare-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level",
                             "warning", "--no-access-log"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        return wrk(f"http://127.0.0.1:{port}/api/status/x", duration, connections)
    finally:
        stop(proc)


async def genloom_case(db: str, pg: str, duration: int, connections: int) -> list[tuple[str, str, float, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-api-"))
    db_url = await fresh_pg(pg) if db == "postgresql" else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    env = genloom_env(db_url, tmp, GENLOOM_LOG_LEVEL="ERROR")
    subprocess.run(genloom_cmd("migrate"), env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(genloom_cmd("serve", "--port", str(port), "--workers", "1"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_ready(base)
        job_id = httpx.post(base + "/api/generate", json={"prompt": "benchmark", "seed": 1, "workflow": "sd15"}).json()["job_id"]
        for _ in range(600):
            if httpx.get(f"{base}/api/status/{job_id}").json()["status"] == "finished":
                break
            time.sleep(0.05)
        for path in (f"/api/status/{job_id}", f"/v1/jobs/{job_id}"):
            wrk(base + path, 2, connections)  # warm-up
            rps, p50 = wrk(base + path, duration, connections)
            rows.append((db, path.rsplit("/", 1)[0] + "/{id}", rps, p50))
    finally:
        stop(proc)
        if db == "postgresql":
            await drop_pg(db_url)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install wrk")
    rows = [("bare FastAPI", "/api/status/{id}", *bare_reference(args.duration, args.connections))]
    for db in ("sqlite", "postgresql"):
        rows += await genloom_case(db, args.pg, args.duration, args.connections)
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, one uvicorn process")
    print("| database | route | req/s | p50 ms |")
    print("|---|---|---|---|")
    for db, route, rps, p50 in rows:
        print(f"| {db} | {route} | {rps:,.0f} | {p50:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
