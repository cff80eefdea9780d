"""The worker: claims due jobs, runs their handlers, keeps their leases alive, and reports the outcome.

One worker runs up to ``concurrency`` jobs at once as asyncio tasks (per-kind limits on top). It runs embedded
in ``genloom serve`` or as its own process (``genloom worker``). On shutdown it stops claiming, gives running
jobs a grace period, then cancels and releases what is left (back to queued, the attempt given back).

Provider outages never fail a job either: an error marked ``outage`` (the provider's circuit is open, it refuses
connections, it answers 502/503/504) sends the job back to wait for the provider's next trial call without using
an attempt, for at most the outage window (``genloom.jobs.outages``).

Database outages (a PostgreSQL restart, a network cut) never end the worker: claiming, lease renewal and every
outcome write back off with jitter and try again (``genloom.core.outage``). A job whose handler hit the
outage is not at fault: once the database answers again it is released back to the queue with its attempt
given back. An outcome computed during the outage (a result, a failure) is written when it comes back; if
the lease lapsed meanwhile and the janitor gave the job to someone else, the guarded write changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from sqlalchemy import delete, insert, update

from genloom.core.db import utc_now
from genloom.core.errors import GenloomError, UpstreamError
from genloom.core.ids import new_id
from genloom.core.outage import Outage, is_database_unavailable
from genloom.jobs import leases, outages, queue
from genloom.jobs.completions import CompletionBatcher
from genloom.jobs.context import JobContext
from genloom.jobs.errors import JobCanceled, LeaseLost
from genloom.jobs.models import WorkerRow

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

log = logging.getLogger("genloom.worker")

CANCEL_POLL_SECONDS = 1.0  # how often running jobs are checked for cancel requests

T = TypeVar("T")


@dataclass
class _Running:
    task: asyncio.Task[None]
    ctx: JobContext
    kind: str
    stop_reason: str | None = None  # canceled | lease_lost | shutdown
    #: the handler has ended and its outcome is being written: a cancel request or a lost lease found now must
    #: not cancel that write (the job would stay running until its lease lapsed); only a shutdown may
    settling: bool = False


class Worker:
    """Runs jobs from the queue.

    :param runtime: the process runtime (database, signals, providers, kinds)
    :param concurrency: jobs run at once by this worker
    :param name: a label for logs and ``GET /v1/queue``
    :param kinds: restrict to these job kinds (default: every registered kind)
    """

    def __init__(self, runtime: Runtime, *, concurrency: int = 4, name: str = "worker", kinds: list[str] | None = None) -> None:
        self.runtime = runtime
        self.concurrency = max(1, concurrency)
        self.kinds = kinds or runtime.kinds.names()
        self.id = f"{socket.gethostname()[:30]}:{os.getpid()}:{name}:{new_id()[-8:]}"
        self._running: dict[str, _Running] = {}
        self._slot_freed = asyncio.Event()
        self._claiming = True
        self._limits: dict[str, int] = {}
        self._completer = CompletionBatcher(runtime, self.id)
        reachability = runtime.db.reachability
        self._claim_outage = Outage("worker.claim", log, reachability)
        self._lease_outage = Outage("worker.lease", log, reachability)
        self._settle_outage = Outage("worker.settle", log, reachability)
        self._stop_event: asyncio.Event | None = None
        self._registered = False
        for kind in self.kinds:
            limit = runtime.settings.kind_concurrency.get(kind) or runtime.kinds.get(kind).concurrency
            if limit:
                self._limits[kind] = limit

    # -- main loops --------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until ``stop`` is set."""
        self._stop_event = stop
        await self._register()
        keeper = asyncio.create_task(self._keep_leases(stop), name=f"lease-keeper {self.id}")
        log.info("worker.started id=%s concurrency=%d kinds=%s", self.id, self.concurrency, ",".join(self.kinds))
        try:
            while not stop.is_set() and self._claiming:
                try:
                    claimed = await self._fill_slots()
                except Exception as exc:  # noqa: BLE001 - nothing that happens while claiming may end the worker
                    await self._claim_failed(exc, stop)
                    continue
                self._claim_outage.ok()
                if claimed:
                    continue
                if self._free_slots() == 0:
                    self._slot_freed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._slot_freed.wait(), self.runtime.settings.poll_interval_seconds)
                else:
                    await self._idle(stop)
        finally:
            self._claiming = False
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _claim_failed(self, exc: Exception, stop: asyncio.Event) -> None:
        """Back off after a failed claim round: an outage with jitter; anything else logged with its traceback."""
        if is_database_unavailable(exc):
            delay = self._claim_outage.failed(exc)
        else:
            log.exception("worker.claim_failed id=%s", self.id)
            delay = min(5.0, self.runtime.settings.poll_interval_seconds * 10)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a wake-up, the poll interval, or ``stop`` — whichever comes first."""
        waiters = [
            asyncio.ensure_future(self.runtime.signals.wait_jobs(self.runtime.settings.poll_interval_seconds)),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def drain(self) -> None:
        """Run until no job is due and none is running (tests and benchmarks)."""
        await self._register()
        keeper_stop = asyncio.Event()
        keeper = asyncio.create_task(self._keep_leases(keeper_stop))
        try:
            while True:
                # A job that ends while we claim may have gone back to the queue (a retry) after our claim
                # looked: "nothing claimed, nothing running" only means done if no job ended meanwhile.
                self._slot_freed.clear()
                claimed = await self._fill_slots()
                if not claimed and not self._running and not self._slot_freed.is_set():
                    return
                if not claimed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._slot_freed.wait(), 0.05)
        finally:
            keeper_stop.set()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self._unregister()

    async def shutdown(self, grace: float) -> None:
        """Stop claiming; wait up to ``grace`` seconds, then cancel and release the jobs still running."""
        self._claiming = False
        deadline = time.monotonic() + grace
        while self._running and time.monotonic() < deadline:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), max(0.01, deadline - time.monotonic()))
        for running in list(self._running.values()):
            running.stop_reason = "shutdown"
            running.task.cancel()
        if self._running:
            await asyncio.gather(*(r.task for r in self._running.values()), return_exceptions=True)
        await self._unregister()
        log.info("worker.stopped id=%s", self.id)

    # -- claiming ----------------------------------------------------------------------------------------
    def _free_slots(self) -> int:
        return self.concurrency - len(self._running)

    def _kind_free(self) -> dict[str, int]:
        busy: dict[str, int] = {}
        for running in self._running.values():
            busy[running.kind] = busy.get(running.kind, 0) + 1
        return {kind: limit - busy.get(kind, 0) for kind, limit in self._limits.items()}

    async def _fill_slots(self) -> int:
        free = self._free_slots()
        if free <= 0 or not self._claiming:
            return 0
        kind_free = self._kind_free()
        unlimited = [k for k in self.kinds if k not in self._limits]
        claimed: list[queue.ClaimedJob] = []
        if unlimited:
            claimed += await queue.claim(self.runtime, self.id, limit=free, kinds=unlimited)
        for kind, slots in kind_free.items():
            room = min(slots, free - len(claimed))
            if room > 0:
                claimed += await queue.claim(self.runtime, self.id, limit=room, kinds=[kind])
        for job in claimed:
            self._start(job)
        return len(claimed)

    def _start(self, job: queue.ClaimedJob) -> None:
        async def report(progress: int, phase: str | None) -> bool:
            held, cancel = await queue.report(self.runtime, job.id, self.id, progress, phase)
            if not held:
                raise LeaseLost()
            return cancel

        ctx = JobContext(
            job_id=job.id, kind=job.kind, input=job.input, owner_id=job.owner_id, attempt=job.attempts,
            max_attempts=job.max_attempts, parent_id=job.parent_id, runtime=self.runtime, _report=report,
        )
        task = asyncio.create_task(self._execute(job, ctx), name=f"job {job.kind} {job.id}")
        self._running[job.id] = _Running(task=task, ctx=ctx, kind=job.kind)

    # -- running -----------------------------------------------------------------------------------------
    async def _execute(self, job: queue.ClaimedJob, ctx: JobContext) -> None:
        rt = self.runtime
        jid, me = job.id, self.id
        try:
            try:
                handler = rt.kinds.get(job.kind).handler
                try:
                    result = await handler(ctx)
                finally:
                    self._running[jid].settling = True
            except asyncio.CancelledError:
                reason = self._running[jid].stop_reason
                if reason == "canceled":
                    await self._settle("cancel", jid, partial(queue.mark_canceled, rt, jid, me))
                elif reason == "shutdown":
                    await self._settle("release", jid, partial(queue.release, rt, jid, me))
                # lease_lost: another worker owns the job now; report nothing
                return
            except JobCanceled:
                await self._settle("cancel", jid, partial(queue.mark_canceled, rt, jid, me))
            except LeaseLost:
                log.warning("worker.lease_lost job_id=%s", jid)
            except UpstreamError as exc:
                if exc.outage and exc.retryable:
                    # the provider is down, not this job: it waits (no attempt used) within the outage window
                    await self._settle("wait_out", jid, partial(outages.wait_out, rt, jid, me, exc))
                else:
                    await self._settle("fail", jid, partial(queue.fail, rt, jid, me, code=exc.code, message=exc.message,
                                                            retryable=exc.retryable, retry_after=exc.retry_after))
            except GenloomError as exc:
                await self._settle("fail", jid, partial(queue.fail, rt, jid, me, code=exc.code, message=exc.message,
                                                        retryable=exc.retryable, retry_after=exc.retry_after))
            except (TimeoutError, httpx.TimeoutException, httpx.NetworkError) as exc:
                code = "timeout" if "Timeout" in type(exc).__name__ else "network"
                await self._settle("fail", jid, partial(queue.fail, rt, jid, me, code=code,
                                                        message=str(exc) or type(exc).__name__, retryable=True))
            except Exception as exc:  # noqa: BLE001 - a handler bug must fail its job, not the worker
                if is_database_unavailable(exc):
                    # Not the job's fault: give it back (attempt included) as soon as the database answers.
                    log.warning("worker.job_hit_outage job_id=%s kind=%s error=%s", jid, job.kind, type(exc).__name__)
                    await self._settle("release", jid, partial(queue.release, rt, jid, me,
                                                               reason="database_unavailable"))
                    return
                log.exception("worker.handler_crashed job_id=%s kind=%s", jid, job.kind)
                await self._settle("fail", jid, partial(queue.fail, rt, jid, me, code="handler_error",
                                                        message=f"{type(exc).__name__}: {exc}", retryable=False))
            else:
                if not await self._settle("complete", jid, partial(self._completer.complete, jid, result)):
                    log.warning("worker.late_finish_ignored job_id=%s", jid)
        except Exception:  # noqa: BLE001 - nothing a job does may kill the worker
            log.exception("worker.report_failed job_id=%s", jid)
        finally:
            self._running.pop(jid, None)
            self._slot_freed.set()

    async def _settle(self, what: str, job_id: str, write: Callable[[], Awaitable[T]]) -> T:
        """Write a job's outcome, retrying through a database outage (with jitter) until it goes through.

        Every outcome write is guarded by this worker's lease, so writing it late is safe: if the janitor gave
        the job to another worker meanwhile, it matches no row. Only a shutdown past its grace stops the
        retrying (the task is cancelled; the lease then lapses and the janitor rescues the job)."""
        while True:
            try:
                outcome = await write()
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                delay = self._settle_outage.failed(exc)
                log.info("worker.settle_retry what=%s job_id=%s retry_in=%.2fs", what, job_id, delay)
                await asyncio.sleep(delay)
                continue
            self._settle_outage.ok()
            return outcome

    async def _keep_leases(self, stop: asyncio.Event) -> None:
        """Renew leases every lease/3, check for cancel requests every second."""
        renew_every = self.runtime.settings.lease_seconds / 3
        last_renew = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(CANCEL_POLL_SECONDS, renew_every))
            ids = list(self._running)
            try:
                if time.monotonic() - last_renew >= renew_every:
                    last_renew = time.monotonic()
                    held = await leases.heartbeat(self.runtime, self.id, ids)
                    for job_id in set(ids) - held:
                        self._stop(job_id, "lease_lost")
                    await self._touch()
                for job_id in await leases.cancel_requested(self.runtime, self.id, list(self._running)):
                    self._stop(job_id, "canceled")
            except Exception as exc:  # noqa: BLE001 - retried on the next tick
                if not is_database_unavailable(exc):
                    log.warning("worker.heartbeat_failed id=%s", self.id, exc_info=True)
                    continue
                # Back off (with jitter) and renew at once when the database answers: leases may be close to lapsing.
                delay = self._lease_outage.failed(exc)
                last_renew = 0.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            self._lease_outage.ok()

    def _stop(self, job_id: str, reason: str) -> None:
        running = self._running.get(job_id)
        if running is None or running.stop_reason is not None or running.settling:
            return
        running.stop_reason = reason
        running.ctx.cancel_requested = True
        running.task.cancel()
        log.info("worker.stopping_job job_id=%s reason=%s", job_id, reason)

    # -- registration ------------------------------------------------------------------------------------
    async def _register(self) -> None:
        now = utc_now()
        values: dict[str, Any] = {
            "id": self.id, "hostname": socket.gethostname()[:255], "pid": os.getpid(), "concurrency": self.concurrency,
            "kinds": self.kinds, "started_at": now, "seen_at": now,
            "database": self.runtime.db.reachability.snapshot(),
        }
        try:
            async with self.runtime.db.write() as conn:
                await conn.execute(delete(WorkerRow).where(WorkerRow.id == self.id))
                await conn.execute(insert(WorkerRow).values(**values))
            self._registered = True
        except Exception as exc:  # noqa: BLE001 - the database may be down at start: registered at the next touch
            log.warning("worker.register_deferred id=%s error=%s", self.id, type(exc).__name__)

    async def _touch(self) -> None:
        """Keep this worker listed with its view of the database; re-register if the row is gone (a worker cut
        off for longer than the janitor's stale limit was pruned meanwhile)."""
        if not self._registered:
            await self._register()
            return
        async with self.runtime.db.write() as conn:
            res = await conn.execute(update(WorkerRow).where(WorkerRow.id == self.id).values(
                seen_at=utc_now(), database=self.runtime.db.reachability.snapshot()))
        if not res.rowcount:
            self._registered = False
            await self._register()

    async def _unregister(self) -> None:
        with contextlib.suppress(Exception):
            async with self.runtime.db.write() as conn:
                await conn.execute(delete(WorkerRow).where(WorkerRow.id == self.id))
