"""Built-in kinds for probes, benchmarks and fault tests: ``noop`` and ``sleep``.

``sleep`` can also be told to fail, so the retry and failure paths are exercised through the same API as real
work: ``{"seconds": 0.1, "fail": "retryable"|"fatal", "fail_times": 1}`` fails the first N attempts."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genloom.core.errors import GenloomError, UpstreamError
from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry


class NoopInput(BaseModel):
    model_config = ConfigDict(extra="allow")


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=1.0, ge=0, le=600)
    fail: Literal["retryable", "fatal"] | None = None
    fail_times: int = Field(default=1, ge=0, le=100)
    retry_after: float | None = Field(default=None, ge=0, le=3600)


async def run_noop(ctx: JobContext) -> dict[str, Any]:
    return {"ok": True, "echo": ctx.input}


async def run_sleep(ctx: JobContext) -> dict[str, Any]:
    params = SleepInput.model_validate(ctx.input)
    if params.fail and ctx.attempt <= params.fail_times:
        if params.fail == "retryable":
            raise UpstreamError("simulated transient failure", code="simulated_transient", retryable=True,
                                retry_after=params.retry_after)
        raise GenloomError("simulated permanent failure", code="simulated_fatal", retryable=False)
    started = time.monotonic()
    await ctx.set_phase("sleeping", 0)
    remaining = params.seconds
    while remaining > 0:
        step = min(1.0, remaining)
        await asyncio.sleep(step)
        remaining -= step
        elapsed = time.monotonic() - started
        await ctx.report(100 * elapsed / params.seconds if params.seconds else 100)
    return {"slept": params.seconds, "attempt": ctx.attempt}


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind("noop", run_noop, NoopInput))
    kinds.register(JobKind("sleep", run_sleep, SleepInput))
