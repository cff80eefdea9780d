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
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import free_port, genloom_cmd, genloom_env, stop  # noqa: E402

#: files either process needs besides the sockets (database, logs, pipes, the event loop's own)
FD_MARGIN = 256
TERMINAL = {"succeeded", "failed", "canceled"}


# --- the machine ------------------------------------------------------------------------------------------


def raise_nofile(want: int) -> int:
    """Raise this process's soft open-files limit towards ``want`` (never past the hard limit); the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def rss(pid: int) -> int:
    return proc_status(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


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


async def create_job(http: httpx.AsyncClient, kind: str, inp: dict[str, Any]) -> str:
    r = await http.post("/v1/jobs", json={"kind": kind, "input": inp})
    r.raise_for_status()
    return str(r.json()["id"])


async def wait_status(http: httpx.AsyncClient, job_id: str, wanted: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = (await http.get(f"/v1/jobs/{job_id}")).json()["status"]
        if status in wanted:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not reach {sorted(wanted)} within {timeout:.0f} s")


# --- the clients ------------------------------------------------------------------------------------------


class Conn:
    """One subscriber socket and what arrived on it."""

    __slots__ = ("ws", "task", "heartbeats", "terminal", "closed_by_server")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.task: asyncio.Task[None] | None = None
        self.heartbeats = 0
        #: job id → (arrival time.time(), the event frame)
        self.terminal: dict[str, tuple[float, dict[str, Any]]] = {}
        self.closed_by_server: str | None = None

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "heartbeat":
                    self.heartbeats += 1
                elif kind == "event" and msg.get("event") in TERMINAL:
                    self.terminal[msg["job_id"]] = (time.time(), msg)
                elif kind == "error":
                    self.closed_by_server = f"error frame {msg.get('code')}"
        except ConnectionClosed as exc:
            self.closed_by_server = f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"
        else:
            self.closed_by_server = f"closed {self.ws.close_code}"


async def open_conn(uri: str, job_id: str, compression: str | None, timeout: float, after: int | None = None
                    ) -> tuple[Conn, float]:
    """Connect, subscribe to ``job_id``, wait for the acknowledgement; the connection and the time it took."""
    t0 = time.perf_counter()
    ws = await connect(uri, ping_interval=None, compression=compression, open_timeout=timeout, close_timeout=5)
    try:
        sub: dict[str, Any] = {"op": "subscribe", "jobs": [job_id]}
        if after is not None:
            sub["after"] = after
        await ws.send(json.dumps(sub))
        conn = Conn(ws)
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "subscribed":
                    break
                if msg.get("type") == "event" and msg.get("event") in TERMINAL:  # replayed before the ack
                    conn.terminal[msg["job_id"]] = (time.time(), msg)
                elif msg.get("type") == "error":
                    raise RuntimeError(f"subscribe refused: {msg}")
    except BaseException:
        await ws.close()
        raise
    conn.task = asyncio.create_task(conn.read())
    return conn, time.perf_counter() - t0


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:200]


async def connect_all(uri: str, plan: list[str], args: argparse.Namespace, server: subprocess.Popen[bytes]
                      ) -> tuple[list[Conn], list[float], float, dict[str, int]]:
    """Open one socket per entry of ``plan`` (the job it follows), ``args.batch`` at a time.

    Stops early, without raising, when a batch mostly fails, the server dies or ``args.connect_timeout`` runs out."""
    conns: list[Conn] = []
    times: list[float] = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = time.monotonic() + args.connect_timeout
    for lo in range(0, len(plan), args.batch):
        batch = plan[lo:lo + args.batch]
        results = await asyncio.gather(
            *(open_conn(uri, job, args.compression, args.open_timeout) for job in batch), return_exceptions=True
        )
        failed = 0
        for res in results:
            if isinstance(res, BaseException):
                failed += 1
                key = describe(res)
                errors[key] = errors.get(key, 0) + 1
            else:
                conns.append(res[0])
                times.append(res[1])
        done = len(conns)
        if done and (done // args.batch) % 8 == 0 or failed:
            print(f"  {done:,} connected, {sum(errors.values()):,} failed, server RSS "
                  f"{rss(server.pid) / 2**20:,.0f} MB", file=sys.stderr)
        if server.poll() is not None:
            errors["server exited"] = 1
            break
        if failed * 2 > len(batch):
            break  # the machine says no: measure with what we have
        if time.monotonic() > deadline:
            errors[f"stopped: --connect-timeout {args.connect_timeout:.0f} s"] = 1
            break
    return conns, times, time.perf_counter() - started, errors


async def connect_quietly(uri: str, plan: list[str], args: argparse.Namespace, server: subprocess.Popen[bytes]
                          ) -> tuple[list[Conn], list[float], float, dict[str, int]]:
    """:func:`connect_all` with this process's garbage collector kept out of the figures.

    Ten thousand client connections make a full collection here take most of a second; one landing during a
    measurement would be charged to the server. So: no collections while connecting, then what exists is
    moved out of the collector's sight (``gc.freeze``)."""
    gc.disable()
    try:
        return await connect_all(uri, plan, args, server)
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


async def close_all(conns: list[Conn], batch: int) -> float:
    started = time.perf_counter()
    for lo in range(0, len(conns), batch):
        await asyncio.gather(*(c.ws.close() for c in conns[lo:lo + batch]), return_exceptions=True)
    for c in conns:
        if c.task is not None:
            c.task.cancel()
    await asyncio.gather(*(c.task for c in conns if c.task is not None), return_exceptions=True)
    return time.perf_counter() - started


def event_time(msg: dict[str, Any]) -> float:
    return datetime.fromisoformat(msg["created_at"].replace("Z", "+00:00")).timestamp()


async def fan_out(http: httpx.AsyncClient, conns: list[Conn], job_id: str, blocker: str, timeout: float
                  ) -> tuple[int, list[float]]:
    """Let ``job_id`` run; per subscriber, ms from the ``succeeded`` event's write to its arrival."""
    targets = [c for c in conns if c.ws.state.name == "OPEN"]
    (await http.post(f"/v1/jobs/{blocker}/cancel")).raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(job_id in c.terminal for c in targets):
        await asyncio.sleep(0.05)
    arrivals = [c.terminal[job_id] for c in targets if job_id in c.terminal]
    delays = sorted((at - event_time(msg)) * 1000 for at, msg in arrivals if msg["event"] == "succeeded")
    return len(targets), delays


async def probe_latency(http: httpx.AsyncClient, uri: str, samples: int, args: argparse.Namespace) -> list[float]:
    """POST → ``succeeded`` on a fresh socket, ms, with everything else still connected."""
    out: list[float] = []
    for _ in range(samples):
        ws = await connect(uri, ping_interval=None, compression=args.compression, open_timeout=args.open_timeout)
        try:
            t0 = time.perf_counter()
            job_id = await create_job(http, "sleep", {"seconds": 0})
            # after=0: a job that finished before the subscription arrived is replayed, so nothing is missed
            await ws.send(json.dumps({"op": "subscribe", "jobs": [job_id], "after": 0}))
            async with asyncio.timeout(30):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("type") == "event" and msg["job_id"] == job_id and msg["event"] in TERMINAL:
                        break
            if msg["event"] == "succeeded":
                out.append((time.perf_counter() - t0) * 1000)
        finally:
            await ws.close()
        await asyncio.sleep(0.05)
    return out


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
