"""The fault run over a :class:`~tests.cluster.harness.Cluster`: jobs created over HTTP through every API
replica, SSE clients following the whole event log on each replica, faults at seeded random moments, then the
proofs (every job finished, nothing run twice for one claim, no event missing or repeated for any client,
storage and rows agree) as figures in a :class:`Report`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from tests.cluster.harness import Cluster, Proc, worker_dead_lines
from tests.cluster.report import Report
from tests.cluster.storage_proof import prove_storage

TERMINAL = {"succeeded", "failed", "canceled"}


# --- load -------------------------------------------------------------------------------------------------------


def job_bodies(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """A mix per 20: 6 noop, 8 sleep (one told to fail once), 5 image.generate, 1 batch of 5 sleeps."""
    bodies: list[dict[str, Any]] = []
    for i in range(count):
        slot = i % 20
        if slot < 6:
            bodies.append({"kind": "noop", "input": {"n": i}})
        elif slot < 14:
            sleep: dict[str, Any] = {"seconds": round(rng.uniform(0.2, 2.0), 2)}
            if slot == 13:
                sleep |= {"fail": "retryable", "fail_times": 1}
            bodies.append({"kind": "sleep", "input": sleep})
        elif slot < 19:
            bodies.append({"kind": "image.generate",
                           "input": {"prompt": f"cluster picture {i}", "polish": False, "width": 256, "height": 256}})
        else:
            bodies.append({"kind": "sleep", "inputs": [{"seconds": 0.3} for _ in range(5)]})
    rng.shuffle(bodies)
    return bodies


async def create_all(cluster: Cluster, bodies: list[dict[str, Any]], window: float, report: Report) -> list[str]:
    """POST every body over the window, alternating replicas; a refused or lost request is sent again with the
    same Idempotency-Key (to the other replica), so each body makes exactly one job."""
    ids: list[str] = []
    gap = window / max(1, len(bodies))

    async def one(client: httpx.AsyncClient, index: int, body: dict[str, Any]) -> None:
        key = uuid.uuid4().hex
        deadline = time.monotonic() + 240
        attempt = 0
        last = ""
        while True:
            base = cluster.bases[(index + attempt) % len(cluster.bases)]
            attempt += 1
            try:
                response = await client.post(f"{base}/v1/jobs", json=body, headers={"Idempotency-Key": key})
                report.http_statuses[str(response.status_code)] += 1
                last = f"{response.status_code} {response.text[:200]}"
                if response.status_code == 202:
                    ids.append(str(response.json()["id"]))
                    return
                if response.status_code not in (429, 502, 503, 504):
                    raise AssertionError(f"{response.status_code} {response.text}\n{cluster.crashes()}\n"
                                         f"{cluster.logs(6000)}")
            except httpx.HTTPError as exc:
                report.http_statuses[type(exc).__name__] += 1
                last = f"{type(exc).__name__} on {base}"
            assert time.monotonic() < deadline, f"could not create {body}: last answer {last}"
            await asyncio.sleep(0.2)

    async with httpx.AsyncClient(timeout=10) as client:
        tasks = []
        for index, body in enumerate(bodies):
            tasks.append(asyncio.create_task(one(client, index, body)))
            await asyncio.sleep(gap)
        await asyncio.gather(*tasks)
    return ids


# --- SSE followers ----------------------------------------------------------------------------------------------


@dataclass
class Follower:
    """Follows ``GET /v1/events`` from event 0; on any disconnect it resumes on the other replica with
    Last-Event-ID (and keeps alternating while one is down)."""

    cluster: Cluster
    home: int
    ids: list[int] = field(default_factory=list)
    reconnects: int = 0
    resumes: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    token: str | None = None

    async def run(self) -> None:
        turn = self.home
        lost_at: float | None = None
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as client:
            while not self.stop.is_set():
                base = self.cluster.bases[turn % len(self.cluster.bases)]
                headers = {"Accept": "text/event-stream"}
                params = {} if self.ids else {"after": "0"}
                if self.token is not None:
                    # as EventSource does: the last id: line as sent (it names ids skipped as gaps too)
                    headers["Last-Event-ID"] = self.token
                try:
                    async with client.stream("GET", f"{base}/v1/events", headers=headers, params=params) as response:
                        if response.status_code != 200:
                            raise httpx.HTTPStatusError("not 200", request=response.request, response=response)
                        if lost_at is not None:
                            self.resumes.append(time.monotonic() - lost_at)
                            lost_at = None
                        kind = "message"
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                self.token = line[3:].strip()
                            elif line.startswith("event:"):
                                kind = line[6:].strip()
                            elif line.startswith("data:") and kind != "reconnect":
                                # the event's own id is in its data: the id: line is a resume token whose head
                                # is the newest id sent so far (a late event below it carries the same head)
                                self.ids.append(int(json.loads(line[5:])["id"]))
                            elif not line:
                                kind = "message"
                            if self.stop.is_set():
                                return
                except (TimeoutError, httpx.HTTPError):
                    pass
                if self.stop.is_set():
                    return
                self.reconnects += 1
                lost_at = lost_at or time.monotonic()
                turn += 1  # the other replica
                await asyncio.sleep(0.05)


# --- gaps -------------------------------------------------------------------------------------------------------


async def force_gaps(dsn: str, stop: asyncio.Event, report: Report, rng: random.Random) -> None:
    """Another writer whose event inserts mostly roll back (sequence holes) and sometimes commit later than the
    hub waits for a hole (a late commit, delivered late): the two cases the hub's gap handling exists for."""
    while not stop.is_set():
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            try:
                tx = conn.transaction()
                await tx.start()
                await conn.execute(
                    "INSERT INTO job_events (job_id, owner_id, type, data, created_at) "
                    "VALUES ('gap-probe', 'public', 'log', $1::jsonb, now())", json.dumps({"probe": True}))
                if rng.random() < 0.2:
                    await asyncio.sleep(2.5)
                    await tx.commit()
                    report.late_commits += 1
                else:
                    await asyncio.sleep(rng.uniform(0, 0.3))
                    await tx.rollback()
            finally:
                await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError):
            pass  # the database is being restarted (a connection it cut mid-query says "cannot switch to state")
        await asyncio.sleep(rng.uniform(0.3, 0.8))


# --- faults -----------------------------------------------------------------------------------------------------


async def _holds_a_running_job(dsn: str, proc: Proc, timeout: float) -> bool:
    """Wait (at most ``timeout`` s) until ``proc``'s worker holds a running job, so that killing it tests the lease
    rescue whatever the machine's speed: on a fast machine jobs may otherwise all be finished or not yet claimed."""
    if proc.popen is None:
        return False
    deadline = time.monotonic() + timeout
    pattern = f"%:{proc.popen.pid}:%"
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the database may be restarting: keep looking until the deadline
            conn = await asyncpg.connect(dsn, timeout=2)
            try:
                if await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'running' AND worker_id LIKE $1",
                                       pattern):
                    return True
            finally:
                await conn.close()
        await asyncio.sleep(0.1)
    return False


async def inject_faults(cluster: Cluster, window: float, rng: random.Random, report: Report,
                        kills: list[float], dsn: str) -> None:
    """At seeded random moments in the window: SIGKILL two workers and one API replica (each restarted), restart
    PostgreSQL with nothing restarted, and with Redis on, SIGKILL Redis (started again after 3 s)."""
    start = time.monotonic()
    plan: list[tuple[float, str]] = [
        (rng.uniform(0.15, 0.25), "kill worker0"), (rng.uniform(0.30, 0.40), "kill api0"),
        (rng.uniform(0.45, 0.55), "restart postgres"), (rng.uniform(0.65, 0.75), "kill worker1"),
    ]
    if cluster.use_redis:
        plan.append((rng.uniform(0.80, 0.85), "kill redis"))
    restarts: list[asyncio.Task[None]] = []
    for at, what in sorted(plan):
        await asyncio.sleep(max(0.0, start + at * window - time.monotonic()))
        t0 = time.monotonic() - start
        if what.startswith("kill worker"):
            proc = cluster.workers[int(what[-1])]
            await _holds_a_running_job(dsn, proc, timeout=15.0)
            proc.kill()
            kills.append(time.time())
            await asyncio.sleep(1.0)
            proc.start()
        elif what == "kill api0":
            proc = cluster.apis[0]
            proc.kill()
            await asyncio.sleep(2.0)
            proc.start()
            # back in the background: the plan's next faults keep their moments however slow start-up is
            restarts.append(asyncio.create_task(asyncio.to_thread(cluster.wait_api, proc)))
        elif what == "restart postgres":
            assert cluster.pg is not None
            await asyncio.to_thread(cluster.pg.restart)
        elif what == "kill redis":
            cluster.kill_redis()
            await asyncio.sleep(3.0)
            cluster.start_redis()
        report.faults.append(f"{t0:6.1f} s  {what}")
    await asyncio.gather(*restarts)


# --- proofs -----------------------------------------------------------------------------------------------------


def _data(event: asyncpg.Record) -> dict[str, Any]:
    data = event["data"]
    return json.loads(data) if isinstance(data, str) else dict(data or {})


async def _wait_finished(conn: asyncpg.Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await conn.fetchval("SELECT count(*) FROM jobs WHERE status NOT IN ('succeeded', 'failed', 'canceled')")
        if left == 0:
            return
        await asyncio.sleep(1.0)


async def prove(cluster: Cluster, dsn: str, top_ids: list[str], followers: list[Follower], report: Report,
                kills: list[float]) -> None:
    assert cluster.flaky is not None
    conn = await asyncpg.connect(dsn)
    try:
        await _wait_finished(conn, 180)
        jobs = await conn.fetch("SELECT id, kind, status, error, attempts, input, is_batch FROM jobs")
        report.jobs = len(jobs)
        report.top_level = len(top_ids)
        for job in jobs:
            report.by_status[job["status"]] += 1
            if job["status"] not in TERMINAL:
                report.unfinished += 1
            if job["status"] == "failed":
                error = json.loads(job["error"]) if isinstance(job["error"], str) else job["error"]
                if not error or not error.get("code") or not error.get("message"):
                    report.failed_without_reason += 1
            if not job["is_batch"]:
                report.attempts_used[int(job["attempts"])] += 1
        missing_top = set(top_ids) - {j["id"] for j in jobs}
        report.unfinished += len(missing_top)
        # Executions: every body run that holds the lease writes its first phase (sleep: "sleeping", image:
        # "prompting") right after its claim's "started" event; two such phases under one claim = a double run.
        events = await conn.fetch("SELECT id, job_id, type, data, created_at FROM job_events ORDER BY id")
        per_claim: dict[str, int] = defaultdict(int)
        first_phase = {"sleeping", "prompting"}
        for event in events:
            data = _data(event)
            if event["type"] == "started":
                report.claims += 1
                per_claim[event["job_id"]] = 0
            elif event["type"] == "phase" and data.get("phase") in first_phase:
                per_claim[event["job_id"]] += 1
                if per_claim[event["job_id"]] > 1:
                    report.double_runs += 1
            elif event["type"] == "retrying" and data.get("reason") == "lease_expired":
                report.lease_rescues += 1
                rescued = event["created_at"].timestamp()
                before = [k for k in kills if k <= rescued]
                if before:
                    report.rescue_delays.append(rescued - max(before))
            elif event["type"] == "retrying" and data.get("reason") == "database_unavailable":
                report.released_for_outage += 1
        # image bodies seen by the provider: never more answered images than claims of that job
        claims_by_job = Counter(e["job_id"] for e in events if e["type"] == "started")
        prompts = {json.loads(j["input"])["prompt"] if isinstance(j["input"], str) else j["input"]["prompt"]: j["id"]
                   for j in jobs if j["kind"] == "image.generate"}
        for prompt, answered in cluster.flaky.ok_by_prompt.items():
            if answered > claims_by_job.get(prompts.get(prompt, ""), 0):
                report.double_runs += 1
        report.image_calls = cluster.flaky.calls
        report.injected = cluster.flaky.injected
        ids = [int(e["id"]) for e in events]
        report.events = len(ids)
        report.id_holes = (ids[-1] - ids[0] + 1 - len(ids)) if ids else 0
        # SSE: each follower has every stored event exactly once
        newest = ids[-1] if ids else 0
        deadline = time.monotonic() + 30
        while any(max(f.ids, default=0) < newest for f in followers) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        for follower in followers:
            follower.stop.set()
        expected = set(ids)
        for follower in followers:
            seen = Counter(follower.ids)
            report.sse_repeated += sum(n - 1 for n in seen.values() if n > 1)
            report.sse_missing += len(expected - set(seen))
            report.sse_reconnects += follower.reconnects
            report.sse_resume_seconds += follower.resumes
        report.sse_clients = len(followers)
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM assets")}
        killed_jobs = {e["job_id"] for e in events if e["type"] == "retrying"
                       and _data(e).get("reason") == "lease_expired"}
        await prove_storage(cluster, keys, killed_jobs, report)
    finally:
        await conn.close()
    report.died_on_their_own = worker_dead_lines(cluster)


async def run(cluster: Cluster, *, jobs: int, window: float, seed: int, followers_per_replica: int = 2) -> Report:
    """Create ``jobs`` bodies over ``window`` seconds with the faults, then prove; returns the figures."""
    assert cluster.pg is not None
    report = Report()
    rng = random.Random(seed)
    dsn = cluster.pg.url.replace("postgresql+asyncpg://", "postgresql://")
    started = time.monotonic()
    followers = [Follower(cluster, home=i % len(cluster.apis))
                 for i in range(followers_per_replica * len(cluster.apis))]
    follower_tasks = [asyncio.create_task(f.run()) for f in followers]
    stop_gaps = asyncio.Event()
    gaps = asyncio.create_task(force_gaps(dsn, stop_gaps, report, random.Random(seed + 1)))
    kills: list[float] = []
    faults = asyncio.create_task(inject_faults(cluster, window, random.Random(seed + 2), report, kills, dsn))
    try:
        top_ids = await create_all(cluster, job_bodies(jobs, rng), window, report)
        await faults
        stop_gaps.set()
        await gaps
        await prove(cluster, dsn, top_ids, followers, report, kills)
    finally:
        for follower in followers:
            follower.stop.set()
        for task in [*follower_tasks, gaps, faults]:
            task.cancel()
        await asyncio.gather(*follower_tasks, gaps, faults, return_exceptions=True)
    report.seconds = time.monotonic() - started
    return report
