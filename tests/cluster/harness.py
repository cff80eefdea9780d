"""The processes of a scaled-out genloom on one machine, each of its own: a PostgreSQL server (``initdb`` into a
temp folder, a free port), optionally a Redis server, a flaky image provider, API replicas
(``genloom serve --workers 0``) and ``genloom worker`` processes — started, SIGKILLed and restarted at will,
never touching the machine's shared PostgreSQL or Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.base import FakeServer
from tests.fakes.openai import OpenAIFake, create_app, openai_error
from tests.pgserver import PgServer
from tests.processes import ROOT, free_port, genloom_cmd, genloom_env

IMAGE_PATH = "/v1/images/generations"


class FlakyImages:
    """ASGI wrapper around the OpenAI fake: ``rate`` of image calls fail, a third each as 429 (Retry-After 0),
    500 and a hang past the client's read timeout; every answered 200 is counted per prompt (the job bodies
    that got as far as an image)."""

    def __init__(self, app: ASGIApp, *, rate: float, hang_seconds: float, seed: int) -> None:
        self.app = app
        self.rate = rate
        self.hang_seconds = hang_seconds
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.ok_by_prompt: Counter[str] = Counter()
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != IMAGE_PATH:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        prompt = str(json.loads(body or b"{}").get("prompt", ""))
        self.calls += 1
        roll = self.rng.random()
        if roll < self.rate:
            kind = ("429", "500", "timeout")[int(roll / self.rate * 3)]
            self.injected[kind] += 1
            if kind == "timeout":
                await asyncio.sleep(self.hang_seconds)
            status = 429 if kind == "429" else 500
            payload = json.dumps(openai_error(status, "rate_limit_exceeded" if status == 429 else "server_error",
                                              f"injected {kind}")).encode()
            headers = [(b"content-type", b"application/json")] + ([(b"retry-after", b"0")] if status == 429 else [])
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        status_seen: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        await self.app(scope, replay, watch)
        if status_seen and status_seen[0] == 200:
            self.ok_by_prompt[prompt] += 1


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    port: int | None = None
    kills: int = 0

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(self.args, env=self.env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
            self.kills += 1

    def terminate(self, timeout: float = 15.0) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Cluster:
    """``start()`` everything, ``close()`` everything; processes by name in ``apis`` and ``workers``."""

    s3_endpoint: str
    api_count: int = 2
    worker_count: int = 3
    concurrency: int = 8
    use_redis: bool = False
    failure_rate: float = 0.3
    seed: int = 1
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="genloom-cluster-")))
    pg: PgServer | None = None
    redis: subprocess.Popen[bytes] | None = None
    redis_port: int = 0
    fake: FakeServer | None = None
    flaky: FlakyImages | None = None
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    bucket: str = ""

    # -- pieces ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.pg = PgServer()
        self.pg.start()
        if self.use_redis:
            self.start_redis()
        self.flaky = FlakyImages(create_app(OpenAIFake()), rate=self.failure_rate, hang_seconds=2.5, seed=self.seed)
        self.fake = FakeServer(self.flaky).start()
        self.bucket = f"cluster-{os.getpid()}-{random.randrange(1 << 30):x}"
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket=self.bucket)
        s3.close()
        env = self.env()
        subprocess.run(genloom_cmd("migrate"), env=env, cwd=str(ROOT), check=True, capture_output=True, timeout=120)
        for i in range(self.api_count):
            port = free_port()
            proc = Proc(f"api{i}", genloom_cmd("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"),
                        env, self.root / f"api{i}.log", port=port)
            self.apis.append(proc)
            proc.start()
        for i in range(self.worker_count):
            proc = Proc(f"worker{i}", genloom_cmd("worker", "--concurrency", str(self.concurrency)), env,
                        self.root / f"worker{i}.log")
            self.workers.append(proc)
            proc.start()
        for api in self.apis:
            self.wait_api(api)

    def start_redis(self) -> None:
        if not self.redis_port:
            self.redis_port = free_port()
        self.redis = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import socket

        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def kill_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.send_signal(signal.SIGKILL)
            self.redis.wait()

    def env(self) -> dict[str, str]:
        assert self.pg is not None and self.fake is not None
        extra = {
            "GENLOOM_DB_AUTO_MIGRATE": "false",
            "GENLOOM_STORAGE": "s3", "GENLOOM_S3_ENDPOINT": self.s3_endpoint, "GENLOOM_S3_BUCKET": self.bucket,
            "GENLOOM_S3_ACCESS_KEY_ID": "testing", "GENLOOM_S3_SECRET_ACCESS_KEY": "testing",
            "GENLOOM_S3_REGION": "us-east-1", "GENLOOM_S3_FORCE_PATH_STYLE": "true",
            "GENLOOM_IMAGE_PROVIDER": "openai", "GENLOOM_OPENAI_BASE_URL": f"{self.fake.url}/v1",
            "GENLOOM_OPENAI_API_KEY": "test-key", "GENLOOM_IMAGE_MODEL": "dall-e-2",
            "GENLOOM_PROVIDER_READ_TIMEOUT": "2", "GENLOOM_PROVIDER_CONNECT_TIMEOUT": "2",
            "GENLOOM_BREAKER_COOLDOWN_SECONDS": "2", "GENLOOM_PROVIDER_PROBES": "false",
            "GENLOOM_LEASE_SECONDS": "10", "GENLOOM_JANITOR_INTERVAL_SECONDS": "1", "GENLOOM_HEARTBEAT_SECONDS": "2",
            "GENLOOM_SHUTDOWN_GRACE_SECONDS": "3", "GENLOOM_POLL_INTERVAL_SECONDS": "0.5",
            "GENLOOM_EVENT_POLL_SECONDS": "0.5", "GENLOOM_RETRY_BASE_SECONDS": "0.2",
            "GENLOOM_RETRY_CAP_SECONDS": "2", "GENLOOM_DB_POOL_SIZE": "5", "GENLOOM_LOG_LEVEL": "WARNING",
        }
        if self.use_redis:
            extra |= {"USE_REDIS": "true", "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                      "GENLOOM_REDIS_PREFIX": "cluster"}
        return genloom_env(self.pg.url, self.root, **extra)

    def wait_api(self, api: Proc, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not api.alive():
                raise RuntimeError(f"{api.name} exited:\n{api.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base(api) + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{api.name} did not become ready")
            time.sleep(0.1)

    def base(self, api: Proc) -> str:
        return f"http://127.0.0.1:{api.port}"

    @property
    def bases(self) -> list[str]:
        return [self.base(a) for a in self.apis]

    def close(self) -> None:
        for proc in [*self.workers, *self.apis]:
            proc.terminate()
        if self.fake is not None:
            self.fake.stop()
        self.kill_redis()
        if self.pg is not None:
            self.pg.destroy()
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self, tail: int = 2000) -> str:
        return "\n".join(f"--- {p.name}\n{p.log.read_text(errors='replace')[-tail:]}"
                         for p in [*self.apis, *self.workers] if p.log.exists())

    def crashes(self, lines: int = 80) -> str:
        """Each ``request.crashed`` record of the API replicas with the traceback under it (a tail of the logs
        can cut off the exception that was actually raised, which is what decides 500 or 503)."""
        out = []
        for p in self.apis:
            if not p.log.exists():
                continue
            text = p.log.read_text(errors="replace").splitlines()
            for i, line in enumerate(text):
                if "request.crashed" in line:
                    out.append(f"--- {p.name}\n" + "\n".join(text[i:i + lines]))
        return "\n".join(out)

    def s3_keys(self) -> set[str]:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        keys: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys |= {str(o["Key"]) for o in page.get("Contents", [])}
        s3.close()
        return keys


def worker_dead_lines(cluster: Cluster) -> list[str]:
    """Log lines of processes that exited on their own (none may: only the test kills)."""
    return [f"{p.name} exit {p.popen.returncode}" for p in [*cluster.apis, *cluster.workers]
            if p.popen is not None and p.popen.poll() is not None and p.popen.returncode != -signal.SIGKILL]


__all__ = ["Cluster", "FlakyImages", "Proc", "worker_dead_lines"]
