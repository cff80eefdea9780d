"""What a job handler sees while it runs: its input, a progress reporter, and cancellation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genloom.jobs.errors import JobCanceled

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

#: At most this many progress writes per second per job (phase changes and 100 % always go through).
PROGRESS_MIN_INTERVAL = 0.25  # seconds

ReportFn = Callable[[int, str | None], Awaitable[bool]]


@dataclass
class JobContext:
    job_id: str
    kind: str
    input: dict[str, Any]
    owner_id: str
    attempt: int
    max_attempts: int
    parent_id: str | None
    runtime: Runtime
    _report: ReportFn
    cancel_requested: bool = False
    phase: str | None = None
    progress_value: int = 0
    _last_write: float = field(default=0.0)

    async def report(self, progress: float | None = None, phase: str | None = None) -> None:
        """Record progress (0–100) and/or phase. Coalesced; raises JobCanceled once a cancel was asked for."""
        new_progress = self.progress_value if progress is None else max(0, min(100, int(progress)))
        phase_changed = phase is not None and phase != self.phase
        if not phase_changed and new_progress == self.progress_value:
            self.check_canceled()
            return
        now = time.monotonic()
        self.progress_value = new_progress
        if phase is not None:
            self.phase = phase
        if phase_changed or new_progress >= 100 or now - self._last_write >= PROGRESS_MIN_INTERVAL:
            self._last_write = now
            if await self._report(self.progress_value, self.phase if phase_changed else None):
                self.cancel_requested = True
        self.check_canceled()

    async def set_phase(self, phase: str, progress: float | None = None) -> None:
        await self.report(progress, phase)

    def check_canceled(self) -> None:
        if self.cancel_requested:
            raise JobCanceled()
