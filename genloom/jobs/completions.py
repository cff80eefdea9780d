"""A worker's successful results, committed together (one transaction for the jobs that finish meanwhile)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from genloom.jobs import queue

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime


class CompletionBatcher:
    """Commits successful results together: while one transaction is in flight, finishing jobs queue up for
    the next. No artificial delay, so a lone job is committed at once and a busy worker amortises commits."""

    MAX_BATCH = 64

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self._pending: list[tuple[str, dict[str, Any], asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def complete(self, job_id: str, result: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((job_id, result, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let jobs finishing in this same loop tick join the batch
            batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
            try:
                done = await queue.complete_many(self.runtime, self.worker_id, [(j, r) for j, r, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each waiting job sees the failure
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for job_id, _, future in batch:
                if not future.done():
                    future.set_result(job_id in done)
