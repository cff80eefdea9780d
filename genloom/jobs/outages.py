"""Jobs whose provider is down wait for it instead of failing.

A provider error marked ``outage`` (:attr:`genloom.core.errors.UpstreamError.outage`: the provider's circuit is
open, its host refuses connections, or it answers 502/503/504) says nothing about the job itself. Counting it as
an attempt would fail every job in flight for good during a ten-second provider restart, so the worker hands
such a job to :func:`wait_out` instead:

- the job goes back to ``queued`` with its attempt given back (:func:`genloom.jobs.queue.release`), due when the
  provider is worth trying again: the error's ``retry_after`` (the breaker's next probe, a ``Retry-After``), else
  a jittered backoff that grows with each wait;
- its ``error`` says ``provider_unavailable`` (the provider's own code as ``cause``) and ``outage_since``, when
  this run of waits began (a success, or a failure of another kind, ends the run);
- once a job has waited ``GENLOOM_PROVIDER_OUTAGE_WINDOW_SECONDS`` (15 min) since then, it fails with
  ``provider_unavailable``, not retryable. No wait is scheduled past the end of the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from genloom.core.db import utc_now
from genloom.core.errors import UpstreamError
from genloom.core.logging import redact, secret_values
from genloom.jobs import queue
from genloom.jobs.log import log_job_transition
from genloom.jobs.states import JobStatus
from genloom.jobs.tables import jobs_t

if TYPE_CHECKING:
    from genloom.jobs.runtime import Runtime

#: the code of a job waiting for its provider, and of one that waited out its whole outage window
GAVE_UP_CODE = "provider_unavailable"


def _streak(error: Any) -> tuple[datetime | None, int]:
    """When the job's current run of outage waits began, and how many waits it has had (from its last error)."""
    if not isinstance(error, dict) or not error.get("outage_since"):
        return None, 0
    try:
        since = datetime.fromisoformat(str(error["outage_since"]))
    except ValueError:
        return None, 0
    return since, int(error.get("outage_waits") or 0)


async def wait_out(runtime: Runtime, job_id: str, worker_id: str, exc: UpstreamError) -> str | None:
    """Put a job that met a provider outage back in the queue (no attempt used), or fail it once it has waited
    the whole outage window. Returns the job's new status, or None when this worker no longer holds it."""
    settings = runtime.settings
    window = settings.provider_outage_window_seconds
    async with runtime.db.reader.connect() as conn:
        row = (await conn.execute(select(jobs_t.c.kind, jobs_t.c.error).where(
            jobs_t.c.id == job_id, jobs_t.c.worker_id == worker_id, jobs_t.c.status == JobStatus.running.value,
        ))).first()
    if row is None:
        return None
    now = utc_now()
    since, waits = _streak(row.error)
    since = since or now
    waited = max(0.0, (now - since).total_seconds())
    # stored, streamed to clients and shown in UIs: never with a key a client library put in its exception
    message = redact(exc.message, secret_values(settings))[:1800]
    if waited >= window:
        return await queue.fail(
            runtime, job_id, worker_id, code=GAVE_UP_CODE, retryable=False,
            message=f"{message} (still unavailable after waiting {waited:.0f}s; the outage window is {window:.0f}s)",
        )
    delay = queue.backoff_seconds(waits + 1, base=settings.retry_base_seconds, cap=settings.retry_cap_seconds,
                                  retry_after=exc.retry_after)
    delay = min(delay, window - waited)
    # the code says what the job waits for; the provider's own code stays beside it
    error = {"code": GAVE_UP_CODE, "cause": exc.code, "message": message, "retryable": True,
             "outage_since": since.isoformat(), "outage_waits": waits + 1}
    if not await queue.release(runtime, job_id, worker_id, run_at=now + timedelta(seconds=delay), error=error,
                               reason="provider_unavailable"):
        return None
    log_job_transition("waiting_for_provider", job_id=job_id, kind=row.kind, status=JobStatus.queued.value,
                       code=exc.code, retry_in=round(delay, 3), waited=round(waited, 1))
    return JobStatus.queued.value
