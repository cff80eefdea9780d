"""An open-loop HTTP load: ``clients`` keep-alive connections, each sending at a fixed ``rate`` per second.

``wrk -cN`` is closed-loop: each connection sends its next request when the last one returns, so at
saturation its latency is only the queue it builds itself (Little's law: p99 ≈ N / throughput). Here each
client follows a schedule (request k at ``start + phase + k / rate``, phases spread over the first period),
and a request's latency counts from the moment it was due, not from when it could be sent: a slow answer
delays the next one on that connection, and that delay is counted (no coordinated omission).

The client is a minimal HTTP/1.1 writer and reader on asyncio streams (tens of microseconds a request), so it
takes little of the CPU the server needs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenLoopResult:
    sent: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.sent / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _client(host: str, port: int, request: bytes, rate: float, phase: float, start: float, until: float,
                  latencies: list[float], errors: list[int]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0
    try:
        due = start + phase
        while due < until:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                writer.write(request)
                status = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                # the server dropped the connection: an error, and a new connection for the next request
                writer.close()
                status = 0
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append((time.perf_counter() - due) * 1000)
            if not 200 <= status < 400:
                errors.append(status)
            sent += 1
            due += 1.0 / rate
    finally:
        writer.close()
    return sent


async def open_loop(url_host: str, port: int, path: str, *, clients: int, rate: float, duration: float,
                    headers: dict[str, str] | None = None) -> OpenLoopResult:
    """``clients`` × ``rate`` requests per second of ``GET path`` for ``duration`` seconds."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {url_host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter() + 0.5  # every connection open before the first request is due
    until = start + duration
    sent = await asyncio.gather(*(_client(url_host, port, request, rate, i / (clients * rate), start, until,
                                          latencies, errors) for i in range(clients)))
    return OpenLoopResult(sent=sum(sent), errors=len(errors), seconds=time.perf_counter() - start,
                          latencies_ms=latencies)
