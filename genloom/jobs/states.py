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

#: (from, to) -> event type. Every status change of a job that runs is one of these: ``queue.status_change`` builds
#: the only UPDATE that sets ``jobs.status`` and takes the event it writes from here, so a change missing from the
#: table raises before anything reaches the database. Batch parents are not in it: their status is derived from
#: their children's (``batch.derive``) and may jump (failed → running when some children are retried).
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


class IllegalTransition(RuntimeError):
    """A status change the table does not allow: a bug in the code asking for it, never a client's mistake."""


def transition(from_: JobStatus, to: JobStatus) -> EventType:
    """The event a change ``from_`` → ``to`` writes; :class:`IllegalTransition` when the table has no such change.

    Always checked (one dict lookup while the statement is built, no database round trip), in tests and in
    production alike: an illegal change must never be written, not merely be caught in tests."""
    try:
        return TRANSITIONS[(from_, to)]
    except KeyError:
        raise IllegalTransition(f"a job cannot go from {from_.value} to {to.value}") from None
