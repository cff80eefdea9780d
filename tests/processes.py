"""Run genloom's own commands as real subprocesses (serve, worker, generate) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def genloom_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_") or k.startswith("GENLOOM_TEST_")}
    for alias in ("HOST", "PORT", "DATABASE_URL", "REDIS_URL", "USE_REDIS", "LOG_LEVEL", "LOG_FILE", "LOG_FORMAT"):
        env.pop(alias, None)
    env.update(
        GENLOOM_DATABASE_URL=database_url,
        GENLOOM_DATA_DIR=str(data_dir),
        GENLOOM_MEDIA_DIR=str(data_dir / "media"),
        GENLOOM_ENV="test",
        GENLOOM_LOG_LEVEL="WARNING",
        GENLOOM_POLL_INTERVAL_SECONDS="0.1",
        # the cheap argon2id cost of tests.conftest.make_settings: the same code, a fraction of the CPU
        GENLOOM_PASSWORD_HASH_TIME_COST="1",
        GENLOOM_PASSWORD_HASH_MEMORY_KIB="8",
        GENLOOM_PASSWORD_HASH_PARALLELISM="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def genloom_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "genloom.cli", *args]


@contextlib.contextmanager
def serve(env: dict[str, str], *, workers: int = 2, ready_path: str = "/healthz", timeout: float = 30.0) -> Iterator[str]:
    """Start ``genloom serve`` on a free port; yield its base URL; stop it with SIGTERM."""
    proc, base = start_serve(env, workers=workers, ready_path=ready_path, timeout=timeout)
    try:
        yield base
    finally:
        stop(proc)


def start_serve(env: dict[str, str], *, workers: int = 2, ready_path: str = "/healthz",
                timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``genloom serve`` on a free port and wait until it answers; the process and its base URL (the
    caller stops it)."""
    port = free_port()
    proc = subprocess.Popen(
        genloom_cmd("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        env=env, cwd=env.get("GENLOOM_DATA_DIR", str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"genloom serve exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(base + ready_path, timeout=1.0).status_code < 600:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("genloom serve did not become ready")
            time.sleep(0.1)
    except BaseException:
        stop(proc)
        raise
    return proc, base


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
