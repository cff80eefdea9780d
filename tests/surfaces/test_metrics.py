"""GET /metrics: HTTP counters by route template, job counters from the event log, queue depth from jobs."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from genloom.core.db import utc_now
from genloom.core.metrics import MetricsState
from genloom.core.principal import ANONYMOUS
from genloom.jobs import service
from genloom.runtime import Runtime
from genloom.system import metrics
from tests.conftest import drain


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def create(runtime: Runtime, kind: str, **kw: object) -> str:
    async with runtime.db.session() as s:
        job = await service.create_job(s, runtime, ANONYMOUS, kind=kind, **kw)  # type: ignore[arg-type]
    return str(job["id"])


class TestHttpMetrics:
    async def test_requests_counted_by_route_template_and_status(self, client: httpx.AsyncClient) -> None:
        await client.get("/healthz")
        await client.get("/healthz")
        await client.get("/v1/jobs/0193a1b2-0000-7000-8000-000000000001")
        await client.get("/v1/jobs/0193a1b2-0000-7000-8000-000000000002")
        await client.get("/no/such/path")
        samples = await scrape(client)
        name = "genloom_http_requests_total"
        assert value(samples, name, method="GET", route="/healthz", status="200") == 2
        # two different ids, one series: the template, never the raw path
        assert value(samples, name, method="GET", route="/v1/jobs/{job_id}", status="404") == 2
        assert value(samples, name, method="GET", route="unmatched", status="404") == 1
        assert not any("0193a1b2" in str(labels) for (_, labels) in samples)
        bucket = value(samples, "genloom_http_request_duration_seconds_count", method="GET", route="/healthz",
                       status="200")
        assert bucket == 2

    async def test_each_app_has_its_own_registry(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await client.get("/healthz")
        other = MetricsState()
        assert other.registry is not runtime.metrics.registry
        assert other.registry.get_sample_value(
            "genloom_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}
        ) is None
        assert runtime.metrics.registry.get_sample_value(
            "genloom_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}
        ) == 1


class TestJobMetrics:
    async def test_finished_jobs_durations_and_queue_depth(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create(runtime, "noop", input={"n": 1})
        await create(runtime, "noop", input={"n": 2})
        await create(runtime, "sleep", input={"seconds": 0, "fail": "fatal"})
        await drain(runtime)
        await create(runtime, "noop", input={"n": 3}, run_at=utc_now() - timedelta(seconds=30))
        await create(runtime, "noop", input={"n": 4}, run_at=utc_now() + timedelta(hours=1))

        samples = await scrape(client)
        assert value(samples, "genloom_jobs_finished_total", kind="noop", status="succeeded") == 2
        assert value(samples, "genloom_jobs_finished_total", kind="sleep", status="failed") == 1
        assert value(samples, "genloom_job_duration_seconds_count", kind="noop", status="succeeded") == 2
        assert value(samples, "genloom_job_duration_seconds_bucket", kind="noop", status="succeeded", le="+Inf") == 2
        assert value(samples, "genloom_jobs", status="succeeded", kind="noop") == 2
        assert value(samples, "genloom_jobs", status="failed", kind="sleep") == 1
        assert value(samples, "genloom_jobs", status="queued", kind="noop") == 2
        oldest = value(samples, "genloom_queue_oldest_seconds", kind="noop")
        assert oldest is not None and oldest >= 29  # the due job, not the one scheduled an hour ahead

        # a second scrape reads only new events: nothing is counted twice
        again = await scrape(client)
        assert value(again, "genloom_jobs_finished_total", kind="noop", status="succeeded") == 2

        await drain(runtime)
        after = await scrape(client)
        assert value(after, "genloom_jobs_finished_total", kind="noop", status="succeeded") == 3
        assert value(after, "genloom_jobs", status="queued", kind="noop") == 1
        assert value(after, "genloom_jobs", status="succeeded", kind="noop") == 3

    async def test_cursor_reads_in_batches(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        for n in range(3):
            await create(runtime, "noop", input={"n": n})
        await drain(runtime)
        state = MetricsState()
        monkeypatch.setattr(metrics, "EVENT_BATCH", 2)
        assert await metrics.observe_finished_jobs(runtime, state) == 2
        assert await metrics.observe_finished_jobs(runtime, state) == 1
        assert await metrics.observe_finished_jobs(runtime, state) == 0
        assert state.registry.get_sample_value(
            "genloom_jobs_finished_total", {"kind": "noop", "status": "succeeded"}
        ) == 3
