"""The graceful-shutdown signal of one server process: who must be told, and how long they may take.

``genloom serve`` receives SIGTERM (a rolling upgrade, a scale-down). Its HTTP server stops listening at once,
but a live stream (SSE, WebSocket) never ends on its own, so uvicorn's own wait for open connections would
sit out the whole grace period and then cut them with no word. Instead every component that holds live
connections registers a hook here (the event hub for SSE and the WebSocket protocols built on it, the GenFlow
channel); :meth:`Shutdown.begin` runs them all at once. A hook sends each of its connections a final frame
that says "reconnect elsewhere" (with the position to resume from), ends them, and returns once they are
gone, so the process can go on to finish in-flight requests and drain its workers within the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("genloom.shutdown")

Hook = Callable[[float], Awaitable[None]]


class Shutdown:
    """Set once per process. Hooks get the seconds they may take and must return within them."""

    def __init__(self) -> None:
        self._hooks: list[Hook] = []
        #: ``time.monotonic()`` by which the whole process should have exited (None: not shutting down)
        self.deadline: float | None = None

    @property
    def begun(self) -> bool:
        return self.deadline is not None

    def on_begin(self, hook: Hook) -> Callable[[], None]:
        """Run ``hook(budget)`` when the shutdown begins; returns a function that removes it again."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    def remaining(self) -> float:
        """Seconds left until the deadline (0 when past it, or not shutting down)."""
        return 0.0 if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    async def begin(self, grace: float, streams_budget: float) -> None:
        """Start the shutdown (the process should be gone ``grace`` seconds from now) and run every hook,
        waiting at most ``streams_budget`` seconds for them. Calling it again does nothing."""
        if self.deadline is not None:
            return
        self.deadline = time.monotonic() + grace
        hooks = list(self._hooks)
        if not hooks:
            return
        tasks = [asyncio.ensure_future(hook(streams_budget)) for hook in hooks]
        done, pending = await asyncio.wait(tasks, timeout=streams_budget)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("shutdown.hook_failed error=%s", type(task.exception()).__name__)
        if pending:
            log.warning("shutdown.streams_not_drained hooks=%d budget_s=%.1f", len(pending), streams_budget)
