"""The Prometheus instruments of one process (never prometheus_client's global registry, so two apps in one
process, as in tests, never share counters). ``genloom.system.metrics`` serves them at ``GET /metrics``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds
JOB_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)  # seconds


@dataclass
class MetricsState:
    """The metrics of one runtime: its registry, instruments and the job-event cursor."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))
    last_event_id: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "genloom_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "genloom_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=HTTP_BUCKETS, registry=r,
        )
        self.jobs_finished = Counter(
            "genloom_jobs_finished", "Jobs that reached a final status", ["kind", "status"], registry=r
        )
        self.job_duration = Histogram(
            "genloom_job_duration_seconds", "Job run time, first start to finish", ["kind", "status"],
            buckets=JOB_BUCKETS, registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        labels = (method, route, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_duration.labels(*labels).observe(duration_s)
