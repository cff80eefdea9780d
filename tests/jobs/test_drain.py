"""``drain`` (burst mode) returns only when no job is due: a job that goes back to the queue while the worker
is looking for work is run, not left queued (the race once made retry tests fail on a loaded machine)."""

from __future__ import annotations

from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.runtime import Runtime
from tests.conftest import drain


async def test_a_job_requeued_during_a_claim_round_is_run_before_drain_returns(runtime: Runtime) -> None:
    assert runtime.settings.retry_base_seconds == 0.0  # the test settings: a retry is due at once
    for _ in range(12):  # the job's retry lands while drain's claim is in flight some of these times
        async with runtime.db.session() as s:
            job = await service.create_job(s, runtime, ANONYMOUS, kind="sleep",
                                           input={"seconds": 0.0, "fail": "retryable", "fail_times": 1})
        await drain(runtime, concurrency=2)
        async with runtime.db.read_session() as s:
            done = await service.get_job(s, ANONYMOUS, job["id"])
        assert (done["status"], done["attempts"]) == ("succeeded", 2)
