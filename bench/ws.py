"""Idle WebSocket benchmark: memory per connection and event delivery with N sockets open on one process.

    python bench/ws.py                          # 10,000 connections
    python bench/ws.py --connections 2000 --fanout 500 --compression none

Design target: 10,000 idle WebSocket subscribers in one process under 1 GB.

Starts one ``genloom serve --workers 1`` (SQLite in a temporary folder, one uvicorn process) with a raised
open-files limit, and opens ``--connections`` sockets to ``/v1/ws`` from this one process (asyncio and the
``websockets`` package, in batches of ``--batch`` so the accept backlog is never overrun, 127.0.0.1 only).
Each socket subscribes to one job: ``--fanout`` of them to a ``noop`` job held in the queue behind a long
``sleep`` job, the rest round-robin to ``--jobs`` finished ``noop`` jobs (live only: they receive nothing but
heartbeats). After ``--idle`` seconds with everything connected it measures the server's RSS
(``/proc/<pid>/status``) and CPU, then, still with all sockets open:

- fan-out: cancels the ``sleep`` job, so the held ``noop`` job runs, and times its ``succeeded`` event
  from the moment the server wrote it to its arrival on every one of its ``--fanout`` subscribers;
- latency: ``--samples`` times, a fresh socket, ``POST /v1/jobs`` of a ``sleep`` job of 0 s, subscribe to it;
  the time from sending the POST to receiving its ``succeeded`` event.

Finally it closes every socket, checks that the server's open files come back down, and opens the same
number again: the server's RSS should stay where it was (freed memory reused, nothing leaked). If the
machine's limits (open files, ephemeral ports, memory) stop it short of ``--connections``, it says how far it
got and measures with what it has.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/queue.py would shadow the standard
# library's "queue" (which asyncio's helpers import).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import tempfile
import time

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_seconds, open_files, proc_status, raise_nofile, rss  # noqa: E402
from bench.ws_clients import (  # noqa: E402
    Conn,
    close_all,
    connect_quietly,
    create_job,
    fan_out,
    open_conn,
    probe_latency,
    wait_status,
)
from tests.processes import free_port, genloom_cmd, genloom_env, stop  # noqa: E402

#: files either process needs besides the sockets (database, logs, pipes, the event loop's own)
FD_MARGIN = 256
TERMINAL = {"succeeded", "failed", "canceled"}


# --- the server -------------------------------------------------------------------------------------------


def start_server(env: dict[str, str], log_path: Path, nofile: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        genloom_cmd("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        env=env, cwd=env["GENLOOM_DATA_DIR"], stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=lambda: raise_nofile(nofile),  # the server holds one socket per client too
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            sys.exit(f"genloom serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            sys.exit("genloom serve did not become ready within 60 s")
        time.sleep(0.1)


# --- the run ----------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def settle(pid: int, seconds: float) -> None:
    """Wait, then until RSS stops moving (the allocator settles after a burst)."""
    await asyncio.sleep(seconds)
    last = rss(pid)
    for _ in range(10):
        await asyncio.sleep(0.5)
        now = rss(pid)
        if abs(now - last) < 256 * 1024:
            return
        last = now


async def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    want = args.connections + args.samples + FD_MARGIN
    soft = raise_nofile(want)
    target = args.connections
    notes: list[str] = []
    if soft < want:
        target = max(0, soft - args.samples - FD_MARGIN)
        notes.append(f"open-files limit {soft:,} (hard) allows only {target:,} connections")
        print(f"note: {notes[-1]}; raise it with `ulimit -Hn` as root", file=sys.stderr)
    fanout = min(args.fanout, target)

    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-ws-"))
    extra = {"GENLOOM_LOG_LEVEL": "ERROR"}
    if args.heartbeat is not None:
        extra["GENLOOM_HEARTBEAT_SECONDS"] = str(args.heartbeat)
    env = genloom_env(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", tmp, **extra)
    subprocess.run(genloom_cmd("migrate"), env=env, check=True, stdout=subprocess.DEVNULL)
    server, base = start_server(env, tmp / "server.log", want)
    uri = "ws" + base.removeprefix("http") + "/v1/ws"
    rows: list[tuple[str, str]] = []

    def add(key: str, value: str) -> None:
        rows.append((key, value))

    conns: list[Conn] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            idle_jobs = [await create_job(http, "noop", {"i": i}) for i in range(args.jobs)]
            for job in idle_jobs:
                await wait_status(http, job, {"succeeded"})
            # The one worker slot is taken by a long sleep, so the fan-out job waits in the queue, quiet.
            blocker = await create_job(http, "sleep", {"seconds": 600})
            await wait_status(http, blocker, {"running"})
            held = await create_job(http, "noop", {"fanout": True})

            # Warm-up: the first sockets load code the rest share; leave that out of the per-socket figure.
            warm = [c for c, _ in [await open_conn(uri, idle_jobs[0], args.compression, 10) for _ in range(20)]]
            await close_all(warm, 20)
            await settle(server.pid, 1)
            rss0, files0 = rss(server.pid), open_files(server.pid)

            plan = [held] * fanout + [idle_jobs[i % len(idle_jobs)] for i in range(target - fanout)]
            print(f"connecting {len(plan):,} sockets to {uri} …", file=sys.stderr)
            conns, times, elapsed, errors = await connect_quietly(uri, plan, args, server)
            n = len(conns)
            fanout_conns = conns[:min(fanout, n)]
            print(f"{n:,} connected in {elapsed:.1f} s; idle {args.idle:.0f} s …", file=sys.stderr)
            cpu0, t0, rss_peak_connect = cpu_seconds(server.pid), time.monotonic(), proc_status(server.pid, "VmHWM")
            beats0 = sum(c.heartbeats for c in conns)
            await settle(server.pid, args.idle)
            idle_cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0) * 100
            rss1, files1 = rss(server.pid), open_files(server.pid)
            beats = sum(c.heartbeats for c in conns) - beats0
            client_rss = rss(os.getpid())

            reached, delays = await fan_out(http, fanout_conns, held, blocker, args.fanout_timeout)
            print(f"fan-out: {len(delays):,}/{reached:,}; latency probes …", file=sys.stderr)
            latencies = await probe_latency(http, uri, args.samples, args)
            dropped = [c.closed_by_server for c in conns if c.closed_by_server]
            rss2 = rss(server.pid)

            close_time = await close_all(conns, args.batch)
            conns = []
            await asyncio.sleep(2)
            rss3, files3 = rss(server.pid), open_files(server.pid)
            gc.unfreeze()

            # Leak check: the same number again. Memory the first round freed should be reused, not added to.
            print(f"second round of {n:,} …", file=sys.stderr)
            conns, _, _, errors2 = await connect_quietly(uri, plan[:n], args, server)
            n2 = len(conns)
            await settle(server.pid, 2)
            rss4 = rss(server.pid)
            await close_all(conns, args.batch)
            conns = []
            gc.unfreeze()
            await asyncio.sleep(2)
            files5 = open_files(server.pid)
            alive = server.poll() is None

        mb = 2**20
        add("connections", f"{n:,} of {args.connections:,}" + (f" ({'; '.join(notes)})" if notes else ""))
        for err, count in sorted(errors.items(), key=lambda e: -e[1])[:3]:
            add("connect errors", f"{count:,} × {err}")
        add("connect: total / rate", f"{elapsed:.1f} s / {n / elapsed:,.0f} per s" if n else "–")
        add("connect + subscribe p50 / p95", f"{pct(times, 0.5) * 1000:.0f} / {pct(times, 0.95) * 1000:.0f} ms")
        add("server RSS before (warm, 0 sockets)", f"{rss0 / mb:,.0f} MB")
        add(f"server RSS with {n:,} idle", f"{rss1 / mb:,.0f} MB (peak {max(rss_peak_connect, rss1) / mb:,.0f} MB)")
        add("RSS per connection", f"{(rss1 - rss0) / max(n, 1) / 1024:,.1f} KB" if n else "–")
        add("server open files before / with", f"{files0:,} / {files1:,}")
        add(f"server CPU while idle ({args.idle:.0f} s)", f"{idle_cpu:.1f} % of one core; {beats:,} heartbeats received")
        add(f"fan-out: one job, {reached:,} subscribers", f"{len(delays):,} of {reached:,} got `succeeded`")
        add("fan-out: event written → first / p50 / last",
            f"{pct(delays, 0):.0f} / {pct(delays, 0.5):.0f} / {pct(delays, 1):.0f} ms" if delays else "–")
        add(f"fresh subscriber, POST → succeeded ({len(latencies)} runs) p50 / p95",
            f"{statistics.median(latencies):.0f} / {pct(latencies, 0.95):.0f} ms" if latencies else "–")
        add("sockets closed by the server meanwhile", f"{len(dropped):,}" + (f" ({dropped[0]})" if dropped else ""))
        add("server RSS after the probes", f"{rss2 / mb:,.0f} MB")
        add("after closing all: close time / open files / RSS",
            f"{close_time:.1f} s / {files3:,} / {rss3 / mb:,.0f} MB")
        add(f"second round: {n2:,} again / open files after closing",
            f"RSS {rss4 / mb:,.0f} MB ({(rss4 - rss1) / mb:+,.0f} MB vs. the first) / {files5:,}"
            + (f"; {sum(errors2.values()):,} failed" if errors2 else "") + ("" if alive else " (server exited!)"))
        add("client RSS (this process, with all open)", f"{client_rss / mb:,.0f} MB")
    finally:
        if conns:
            await close_all(conns, args.batch)
        stop(server)
    log_text = (tmp / "server.log").read_text(errors="replace").strip()
    if log_text:
        print(f"server log ({tmp / 'server.log'}), last lines:\n{log_text[-2000:]}", file=sys.stderr)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--fanout", type=int, default=1_000, help="subscribers of the one job that finishes")
    parser.add_argument("--jobs", type=int, default=10, help="finished jobs the other sockets follow")
    parser.add_argument("--batch", type=int, default=250, help="sockets opened at once")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds all sit idle before measuring")
    parser.add_argument("--samples", type=int, default=20, help="fresh-subscriber latency runs")
    parser.add_argument("--heartbeat", type=float, default=None, help="GENLOOM_HEARTBEAT_SECONDS (default: the server's)")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                        help="permessage-deflate offered by the client (browsers do)")
    parser.add_argument("--open-timeout", type=float, default=30.0)
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="give up opening more after this")
    parser.add_argument("--fanout-timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.connections < 1 or args.batch < 1 or args.jobs < 1:
        parser.error("--connections, --batch and --jobs must be positive")
    args.compression = None if args.compression == "none" else args.compression
    rows = await run(args)
    print(f"one `genloom serve --workers 1` (SQLite), one client process, compression {args.compression or 'none'}, "
          f"heartbeat {args.heartbeat or 'default'}")
    print("| measure | value |")
    print("|---|---|")
    for key, value in rows:
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    asyncio.run(main())
