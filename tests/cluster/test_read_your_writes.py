"""Read-your-writes across API replicas: a change made on replica A is what replica B answers right after,
never an older snapshot from B's read model (two ``genloom serve --workers 0`` on a PostgreSQL of their own)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster.harness import Cluster

ROUNDS = 200


@pytest.fixture(scope="module")
def replicas(moto_server: str) -> Iterator[Cluster]:
    cluster = Cluster(s3_endpoint=moto_server, worker_count=0, failure_rate=0.0)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.mark.slow
def test_write_on_a_read_on_b(replicas: Cluster) -> None:
    a, b = replicas.bases
    stale = 0
    with httpx.Client(timeout=10) as client:
        for i in range(ROUNDS):
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            created = client.post(f"{writer}/v1/jobs", json={"kind": "sleep", "input": {"seconds": 60}})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            first = client.get(f"{reader}/v1/jobs/{job_id}")  # the reader caches the queued snapshot
            assert first.status_code == 200 and first.json()["status"] == "queued"
            canceled = client.post(f"{writer}/v1/jobs/{job_id}/cancel")
            assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text
            after = client.get(f"{reader}/v1/jobs/{job_id}")
            assert after.status_code == 200
            if after.json()["status"] != "canceled":
                stale += 1
    assert stale == 0, f"{stale} of {ROUNDS} reads on the other replica answered an older snapshot"
