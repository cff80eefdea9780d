"""A real ``genloom serve`` (subprocess, real socket) for the contract tests, with an administrator, a user and
their tokens; one server per database and test."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.processes import genloom_cmd, genloom_env, serve

ADMIN_PASSWORD = "contract-admin-password"
USER_PASSWORD = "contract-user-password"


@dataclass(frozen=True)
class LiveGenloom:
    url: str
    admin_token: str
    user_token: str
    env: dict[str, str]


def login(url: str, username: str, password: str) -> str:
    r = httpx.post(f"{url}/auth/login", json={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


@contextlib.contextmanager
def live_genloom(database_url: str, data_dir: Path, *, workers: int) -> Iterator[LiveGenloom]:
    """``genloom serve`` with offline providers on ``database_url``, an administrator and a signed-in user."""
    env = genloom_env(database_url, data_dir, GENLOOM_ADMIN_USERNAME="admin", GENLOOM_ADMIN_PASSWORD=ADMIN_PASSWORD,
                      GENLOOM_SECRET_KEY="contract-tests-secret-key", GENLOOM_HEARTBEAT_SECONDS="1")
    subprocess.run(genloom_cmd("init-users"), env=env, cwd=data_dir, check=True, capture_output=True, timeout=60)
    with serve(env, workers=workers, timeout=120) as url:
        r = httpx.post(f"{url}/auth/register", json={"username": "contract-user", "password": USER_PASSWORD},
                       timeout=10)
        assert r.status_code == 201, r.text
        yield LiveGenloom(url=url, admin_token=login(url, "admin", ADMIN_PASSWORD),
                          user_token=login(url, "contract-user", USER_PASSWORD), env=env)


@pytest.fixture
def genloom_server(database_url: str, tmp_path: Path) -> Iterator[LiveGenloom]:
    """No embedded workers: the API's answers are the subject, and rendering images would only slow it down."""
    with live_genloom(database_url, tmp_path, workers=0) as server:
        yield server


@pytest.fixture
def genloom_server_with_worker(database_url: str, tmp_path: Path) -> Iterator[LiveGenloom]:
    """One embedded worker, so jobs run to the end (the Postman collection polls a job until it is done)."""
    with live_genloom(database_url, tmp_path, workers=1) as server:
        yield server
