"""Helpers for tests of the remote clients (Ark, ComfyUI, OpenAI): fast settings, a fake on a real port, and a
way to run a job through the real queue and read it back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from genloom.core.settings import Settings
from genloom.jobs import enqueueing, service
from genloom.providers.resilience import ProviderGuard
from genloom.runtime import Runtime
from tests.conftest import drain, make_settings
from tests.fakes.base import FakeServer

#: retries and polls in milliseconds, so fault tests finish quickly (no timing is asserted)
FAST = {
    "provider_backoff_base_seconds": 0.01,
    "provider_backoff_cap_seconds": 0.05,
    "task_poll_interval_seconds": 0.05,
    "provider_read_timeout": 5.0,
    "provider_connect_timeout": 2.0,
    "download_allow_hosts": ["127.0.0.1"],
}


State = TypeVar("State")


def fast_settings(**overrides: Any) -> Settings:
    return make_settings(**{**FAST, **overrides})


def queue_overrides(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """The settings of a test runtime that runs jobs through the real queue: its database, its own folders, and
    no waiting between retries or polls."""
    return {"database_url": database_url, "data_dir": tmp_path, "media_dir": tmp_path / "media",
            "retry_base_seconds": 0.0, "poll_interval_seconds": 0.05, "event_poll_seconds": 0.05}


@contextlib.contextmanager
def serve(app: Any) -> Iterator[FakeServer]:
    with FakeServer(app) as server:
        yield server


def served(state: State, create_app: Callable[[State], Any]) -> Iterator[tuple[State, FakeServer]]:
    """The body of a fake's fixture (``yield from served(…)``): its state and the server running its app."""
    with serve(create_app(state)) as server:
        yield state, server


def guard_for(name: str, settings: Settings) -> ProviderGuard:
    return ProviderGuard.from_settings(name, settings)


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record as one line: its message and all its fields (where a leaked secret would show)."""
    return [r.getMessage() + " " + repr(r.__dict__) for r in caplog.records]


class Recorder:
    """A progress callback that remembers what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str | None]] = []

    async def __call__(self, fraction: float, phase: str | None) -> None:
        self.calls.append((fraction, phase))

    @property
    def phases(self) -> list[str]:
        seen: list[str] = []
        for _, phase in self.calls:
            if phase and (not seen or seen[-1] != phase):
                seen.append(phase)
        return seen


async def enqueue(runtime: Runtime, kind: str, data: dict[str, Any], *, max_attempts: int | None = None) -> str:
    async with runtime.db.session() as session:
        job = await enqueueing.enqueue(session, runtime, kind=kind, input=data, owner_id="public",
                                  max_attempts=max_attempts)
    return str(job["id"])


async def post_job(client: httpx.AsyncClient, input: dict[str, Any], kind: str = "image.generate") -> httpx.Response:
    return await client.post("/v1/jobs", json={"kind": kind, "input": input})


async def finish(runtime: Runtime, created: httpx.Response, timeout: float = 30.0) -> dict[str, Any]:
    """Run the queue until the job ``created`` answered for has finished, then read it back.

    A retried job may be due a moment later (a provider's Retry-After is honoured), so one idle queue is not
    enough: keep draining until the job leaves the queue or the timeout passes."""
    job_id = created.json()["id"]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await drain(runtime)
        job = await read(runtime, job_id)
        if job["status"] not in ("queued", "running") or asyncio.get_running_loop().time() > deadline:
            return job
        await asyncio.sleep(0.05)


async def read(runtime: Runtime, job_id: str) -> dict[str, Any]:
    async with runtime.db.session() as session:
        row = await service.fetch_row(session, job_id)
    assert row is not None
    return service.job_dict(row)


async def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    """Poll an async predicate until it holds (used to act at a given point of a running job)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def cancel_when(task: asyncio.Task[Any], predicate: Any) -> None:
    """Cancel a running call once ``predicate`` holds, and check that the cancel propagates out of it."""
    await wait_for(predicate)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
