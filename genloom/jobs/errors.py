"""Errors of the job queue.

    GenloomError
    ├── JobNotFound (NotFound)          404  unknown id, or another owner's
    ├── JobStateConflict (Conflict)     409  e.g. retry of a job that is still running
    ├── UnknownJobKind (InvalidInput)   400
    ├── JobCanceled                          raised inside a handler once cancel was requested
    ├── LeaseLost                            this worker no longer holds the job
    └── RetryJob                             a handler asks for a later retry (retryable)
"""

from __future__ import annotations

from typing import Any

from genloom.core.errors import Conflict, GenloomError, InvalidInput, NotFound


class JobNotFound(NotFound):
    """Job not found."""

    default_code = "job_not_found"


class JobStateConflict(Conflict):
    """The job is not in a state that allows this."""

    default_code = "job_state_conflict"


class UnknownJobKind(InvalidInput):
    """Unknown job kind."""

    default_code = "unknown_kind"


class JobCanceled(GenloomError):
    """The job was canceled."""

    default_code = "canceled"


class LeaseLost(GenloomError):
    """This worker lost the job's lease."""

    default_code = "lease_lost"


class RetryJob(GenloomError):
    """Try this job again later."""

    default_code = "retry"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after, **kw)
