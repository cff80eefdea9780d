"""The scaled-out shape under faults, as real processes on this machine: 2 ``genloom serve --workers 0`` API
replicas, 3 ``genloom worker`` processes, a PostgreSQL server of the test's own, media on S3 (moto's server
over HTTP), an image provider failing 30 % of calls (429 / 500 / hangs past the read timeout). Jobs are created
over HTTP through both replicas while SSE clients on each replica follow the whole event log; at seeded random
moments two workers and one replica are SIGKILLed (and restarted) and PostgreSQL is restarted with nothing
restarted after it. Then every proof is printed and checked (``Report.ok``).

Sized for CI on 2 cores (100 bodies on NOTIFY, 50 on Redis; ``GENLOOM_CLUSTER_JOBS``); ``python bench/cluster.py`` runs the full 2,000."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster import scenario
from tests.cluster.harness import Cluster
from tests.cluster.report import Report

JOBS = int(os.environ.get("GENLOOM_CLUSTER_JOBS", "100"))
SEED = int(os.environ.get("GENLOOM_CLUSTER_SEED", "13"))


@pytest.fixture
def make_cluster(moto_server: str) -> Iterator[Callable[..., Cluster]]:
    """Clusters made through this are closed (every process stopped, every folder removed) after the test."""
    made: list[Cluster] = []

    def make(**options: Any) -> Cluster:
        cluster = Cluster(s3_endpoint=moto_server, **options)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()


def _check(cluster: Cluster, report: Report, title: str) -> None:
    print("\n" + report.table(title))
    assert report.ok(), report.table(title) + "\n" + cluster.logs()
    assert report.claims > report.jobs - report.by_status.get("canceled", 0), "some jobs never ran"
    assert report.lease_rescues >= 1, "no worker kill hit a running job: the load is too light"


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_cluster_on_postgres_notify(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(seed=SEED)
    cluster.start()
    report = await scenario.run(cluster, jobs=JOBS, window=40.0, seed=SEED)
    _check(cluster, report, f"cluster, LISTEN/NOTIFY wake-ups, {JOBS} bodies")


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_cluster_on_redis_wakeups(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(seed=SEED + 1, use_redis=True)
    cluster.start()
    report = await scenario.run(cluster, jobs=JOBS // 2, window=25.0, seed=SEED + 1)
    _check(cluster, report, f"cluster, Redis wake-ups (Redis SIGKILLed once), {JOBS // 2} bodies")
