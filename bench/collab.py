"""Collaborative editing benchmark: N standard Yjs clients (npm yjs + y-websocket, in one Node process) on one
document; one of them types ``--edits`` markers ``--gap-ms`` apart and every other client notes when each
arrives.

    python bench/collab.py                         # 100 editors, 40 edits, SQLite
    python bench/collab.py --editors 50 --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

Prints update latency (one editor's keystroke → seen by each other editor) p50/p99, whether all editors
converged, the server's peak RSS while they were connected and the CPU time it used meanwhile (less sensitive
to a busy machine than the latencies), for genloom (``genloom serve --workers 0``:
auth, every update stored in the database before it is shown to others, snapshots) and, in the same run, for
the peer ``pycrdt-websocket`` server (the Jupyter ecosystem's Yjs server: in memory, no auth, no storage) on
the same machine. Needs node + npm (tests/node is installed when missing); the peer row needs
``pip install pycrdt-websocket``. Runs on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_seconds, rss  # noqa: E402

NODE = ROOT / "tests" / "node"
SCRIPT = NODE / "yjs_editors.mjs"
#: a server that cannot serve the clients within this long gets a row saying so
LIMIT_SECONDS = 150.0
PEER = """
import asyncio, sys, uvicorn
from pycrdt.websocket import ASGIServer, WebsocketServer
async def main(port):
    async with WebsocketServer() as server:
        config = uvicorn.Config(ASGIServer(server), host="127.0.0.1", port=port, ws="websockets-sansio",
                                log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve()
asyncio.run(main(int(sys.argv[1])))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    return rss(pid) / (1024 * 1024)




def wait_settled(pid: int, limit: float = 120.0) -> None:
    """Until the server's RSS stops growing: genloom loads the search segmenter's dictionary in the background
    after start, and a run that overlaps it measures that (about 120 MB and a few CPU seconds) too."""
    deadline, last = time.monotonic() + limit, rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = rss_mb(pid)
        if now - last < 2.0:
            return
        last = now


def wait_ready(url: str, proc: subprocess.Popen[bytes], path: str = "/healthz", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url + path, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


async def run_clients(config: dict[str, object], pid: int) -> tuple[dict[str, object], float]:
    cpu = cpu_seconds(pid)
    proc = await asyncio.create_subprocess_exec("node", str(SCRIPT), json.dumps(config), cwd=str(NODE),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    peak = rss_mb(pid)
    communicate = asyncio.ensure_future(proc.communicate())
    deadline = time.monotonic() + LIMIT_SECONDS
    while not communicate.done():
        peak = max(peak, rss_mb(pid))
        if time.monotonic() > deadline:
            proc.kill()
            await communicate
            raise TimeoutError(f"the clients did not finish within {LIMIT_SECONDS:.0f} s")
        await asyncio.sleep(0.2)
    out, err = communicate.result()
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(err.decode()[-2000:])
    result: dict[str, object] = json.loads(lines[-1])
    result["cpu"] = cpu_seconds(pid) - cpu
    return result, peak


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: the peer server does not always exit on SIGTERM once its clients are gone."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def row(name: str, result: dict[str, object], peak: float, idle: float) -> str:
    samples = [float(v) for v in result["samples"]]  # type: ignore[attr-defined]
    return (f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {percentile(samples, 0.99):.1f} | "
            f"{max(samples):.1f} | {'yes' if result['converged'] else 'NO'} | {idle:.0f} | {peak:.0f} | "
            f"{result['cpu']:.1f} |")


async def bench_genloom(args: argparse.Namespace, data: Path) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = args.database_url or f"sqlite+aiosqlite:///{data / 'bench.db'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")},
           "GENLOOM_DATABASE_URL": database_url, "GENLOOM_DATA_DIR": str(data), "GENLOOM_LOG_LEVEL": "WARNING",
           "GENLOOM_SECRET_KEY": "bench-secret-key-bench-secret-key", "GENLOOM_PROVIDER_PROBES": "false",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "genloom.cli", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "0"], env=env, cwd=str(data))
    try:
        wait_ready(url, proc, timeout=args.start_timeout)
        with httpx.Client(base_url=url, timeout=30) as client:
            client.post("/auth/register", json={"username": "bencher", "password": "bench password 1"})
            token = client.post("/auth/login", json={"username": "bencher",
                                                     "password": "bench password 1"}).json()["access_token"]
            article = client.post("/articles", json={"title": "Bench", "content": "Start."},
                                  headers={"Authorization": f"Bearer {token}"}).json()["id"]
        wait_settled(proc.pid)
        idle = rss_mb(proc.pid)
        result, peak = await run_clients({"url": url.replace("http", "ws") + "/ws/articles", "doc": article,
                                          "tokens": [token] * args.editors, "mode": "latency", "edits": args.edits,
                                          "gapMs": args.gap_ms, "timeoutMs": 120000}, proc.pid)
        dialect = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        return row(f"genloom ({dialect}; stored before shown)", result, peak, idle)
    finally:
        stop(proc)


async def bench_peer(args: argparse.Namespace) -> str | None:
    try:
        import pycrdt.websocket  # noqa: F401
    except ImportError:
        return None
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", PEER, str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("peer did not start") from None
                time.sleep(0.1)
        idle = rss_mb(proc.pid)
        try:
            result, peak = await run_clients({"url": f"ws://127.0.0.1:{port}", "doc": "bench", "tokens": [""] * args.editors,
                                          "mode": "latency", "edits": args.edits, "gapMs": args.gap_ms,
                                              "timeoutMs": 120000}, proc.pid)
        except (TimeoutError, RuntimeError) as exc:
            return (f"| pycrdt-websocket (peer; memory only, no auth) | did not finish: {exc} | | | | | {idle:.0f} | "
                    f"{rss_mb(proc.pid):.0f} | |")
        return row("pycrdt-websocket (peer; memory only, no auth)", result, peak, idle)
    finally:
        stop(proc)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--editors", type=int, default=100)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--gap-ms", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds the server may take to start")
    args = parser.parse_args()
    if not (NODE / "node_modules" / "y-websocket").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [await bench_genloom(args, Path(tmp))]
    print(rows[0], flush=True)
    peer = await bench_peer(args)
    if peer:
        rows.append(peer)
    print(f"\n{args.editors} editors on one document, {args.edits} edits by one of them {args.gap_ms} ms apart "
          f"(latency: keystroke to seen by each other editor)\n")
    print("| server | deliveries | p50 ms | p99 ms | max ms | converged | idle RSS MB | peak RSS MB | server CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
