"""Job statuses, the transitions between them, and the event each transition writes."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    queued = "queued"  #: waiting for a worker (possibly until run_at)
    running = "running"  #: held by a worker under a lease
    succeeded = "succeeded"  #: finished with a result
    failed = "failed"  #: finished with an error (no attempts left, or not retryable)
    canceled = "canceled"  #: stopped on request


class EventType(StrEnum):
    queued = "queued"
    started = "started"
    phase = "phase"
    progress = "progress"
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    log = "log"


TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled})
ACTIVE = frozenset({JobStatus.queued, JobStatus.running})

#: (from, to) -> event type. Every status change in queue.py is one of these.
TRANSITIONS: dict[tuple[JobStatus, JobStatus], EventType] = {
    (JobStatus.queued, JobStatus.running): EventType.started,
    (JobStatus.queued, JobStatus.canceled): EventType.canceled,
    (JobStatus.running, JobStatus.succeeded): EventType.succeeded,
    (JobStatus.running, JobStatus.failed): EventType.failed,
    (JobStatus.running, JobStatus.queued): EventType.retrying,
    (JobStatus.running, JobStatus.canceled): EventType.canceled,
    (JobStatus.failed, JobStatus.queued): EventType.queued,
    (JobStatus.canceled, JobStatus.queued): EventType.queued,
}
