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
                      GENLOOM_SECRET_KEY="contract-tests-secret-key", GENLOOM_HEARTBEAT_SECONDS="1",
                      # the user pass outlasts the default 15 minutes on a loaded machine
                      GENLOOM_ACCESS_TOKEN_MINUTES="120")
    subprocess.run(genloom_cmd("init-users"), env=env, cwd=data_dir, check=True, capture_output=True, timeout=60)
    with serve(env, workers=workers, timeout=120) as url:
        r = httpx.post(f"{url}/auth/register", json={"username": "contract-user", "password": USER_PASSWORD},
                       timeout=10)
        assert r.status_code == 201, r.text
        yield LiveGenloom(url=url, admin_token=login(url, "admin", ADMIN_PASSWORD),
                          user_token=login(url, "contract-user", USER_PASSWORD), env=env)


@dataclass(frozen=True)
class GenflowRows:
    """Rows the signed-in user owns, for the contract run to name: an article with two versions, an assistant
    session about it with one exchange."""

    article_id: str
    session_id: str
    message_ids: tuple[str, ...]


def genflow_rows(server: LiveGenloom) -> GenflowRows:
    auth = {"Authorization": f"Bearer {server.user_token}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=60) as http:
        r = http.post("/articles", json={"title": "合同测试", "content": "# 合同测试\n\n第一稿。"})
        assert r.status_code == 201, r.text
        article = r.json()
        r = http.put(f"/articles/{article['id']}", json={"content": "# 合同测试\n\n第二稿。",
                                                         "version": article["version"]})
        assert r.status_code == 200, r.text
        r = http.post("/assistant/sessions", json={"articleId": article["id"], "title": "contract"})
        assert r.status_code == 201, r.text
        chat = r.json()
        r = http.post(f"/assistant/sessions/{chat['id']}/messages", json={"content": "怎样让开头更吸引人？"})
        assert r.status_code == 201, r.text
        exchange = r.json()
    return GenflowRows(article_id=article["id"], session_id=chat["id"],
                       message_ids=(exchange["userMessage"]["id"], exchange["message"]["id"]))


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
