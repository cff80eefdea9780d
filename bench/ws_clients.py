"""The WebSocket benchmark's clients (bench/ws.py): subscriber sockets to ``/v1/ws``, opened in batches, and the
fan-out and latency probes run over them."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.machine import rss

TERMINAL = {"succeeded", "failed", "canceled"}


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
