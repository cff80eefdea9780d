"""``GET /metrics``: Prometheus text exposition from a per-app registry (never prometheus_client's global one,
so two apps in one process, as in tests, never share counters).

* ``genloom_http_requests_total{method,route,status}`` and ``genloom_http_request_duration_seconds{method,route,
  status}``: fed by :class:`genloom.core.logging.RequestLogMiddleware` through the app's
  request observers (``runtime.metrics``); ``route`` is the route template (``/v1/jobs/{job_id}``), never the raw path.
* ``genloom_jobs_finished_total{kind,status}`` and ``genloom_job_duration_seconds{kind,status}`` (start to
  finish): read on scrape from the ``job_events`` log after the last event this process has seen, so they count
  jobs finished by any worker process, not only embedded ones. Every API replica reads the same log, so
  aggregate these with ``max`` across replicas, not ``sum``.
* ``genloom_jobs{status,kind}``: rows of ``jobs`` grouped by status and kind, queried on scrape (queue depth).
* ``genloom_queue_oldest_seconds{kind}``: age of the oldest due queued job per kind (is the queue keeping up?).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from genloom.core.db import utc_now
from genloom.core.metrics import MetricsState
from genloom.deps import RuntimeDep
from genloom.jobs.models import Job, JobEvent
from genloom.runtime import Runtime

router = APIRouter(tags=["System"])
log = logging.getLogger("genloom.metrics")

TERMINAL_EVENTS = ("succeeded", "failed", "canceled")
EVENT_BATCH = 5000  # terminal events read per scrape at most; the rest wait for the next scrape


async def observe_finished_jobs(runtime: Runtime, state: MetricsState) -> int:
    """Feed job counters from terminal events newer than the cursor; returns how many were read."""
    stmt = (
        select(JobEvent.id, JobEvent.type, JobEvent.created_at, Job.kind, Job.started_at)
        .outerjoin(Job, Job.id == JobEvent.job_id)
        .where(JobEvent.id > state.last_event_id, JobEvent.type.in_(TERMINAL_EVENTS))
        .order_by(JobEvent.id)
        .limit(EVENT_BATCH)
    )
    async with runtime.db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    for event_id, status, finished_at, kind, started_at in rows:
        kind = kind or "unknown"  # the job was pruned before this process saw its event
        state.jobs_finished.labels(kind, status).inc()
        if started_at is not None and finished_at is not None:
            state.job_duration.labels(kind, status).observe(max(0.0, (finished_at - started_at).total_seconds()))
        state.last_event_id = max(state.last_event_id, int(event_id))
    return len(rows)


class _Snapshot(Collector):
    """Gauges measured on this scrape, handed to a throw-away registry (no state shared between scrapes)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


async def queue_gauges(runtime: Runtime) -> list[Metric]:
    depth = GaugeMetricFamily("genloom_jobs", "Jobs in the database by status and kind", labels=["status", "kind"])
    oldest = GaugeMetricFamily(
        "genloom_queue_oldest_seconds", "Age of the oldest due queued job", labels=["kind"]
    )
    now = utc_now()
    async with runtime.db.read_session() as session:
        counts = (await session.execute(
            select(Job.status, Job.kind, func.count()).group_by(Job.status, Job.kind).order_by(Job.status, Job.kind)
        )).all()
        due = (await session.execute(
            select(Job.kind, func.min(Job.run_at))
            .where(Job.status == "queued", Job.is_batch.is_(False), Job.run_at <= now)
            .group_by(Job.kind)
            .order_by(Job.kind)
        )).all()
    for status, kind, count in counts:
        depth.add_metric([status, kind], float(count))
    for kind, run_at in due:
        if isinstance(run_at, datetime):
            oldest.add_metric([kind], max(0.0, (now - run_at).total_seconds()))
    return [depth, oldest]


async def render(runtime: Runtime) -> bytes:
    """The full exposition text for one scrape."""
    state = runtime.metrics
    async with state.lock:  # two concurrent scrapes must not count the same events twice
        await observe_finished_jobs(runtime, state)
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(await queue_gauges(runtime)))
    return generate_latest(state.registry) + generate_latest(snapshot)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": "genloom_jobs{status=\"queued\",kind=\"image.generate\"} 3.0\n"}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(await render(runtime), media_type=CONTENT_TYPE_LATEST)
