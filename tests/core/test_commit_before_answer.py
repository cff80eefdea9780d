"""A write route's answer is sent only after its transaction committed.

* register → login at once, 200 times on PostgreSQL (fewer on SQLite), in process and over a real socket: never
  a 401 (before, the 201 left while the commit still ran, and the login missed the user about one time in five);
* every create route is read back at once over a real socket (identity, cineMind nodes and tasks, native jobs,
  ratings, media upload, Studio);
* a commit that fails (a deferred foreign key checked only at COMMIT) answers 500 in the surface's own error
  shape, and nothing of the request is left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text

from genloom.app import create_app
from genloom.identity.models import User
from genloom.nodes.models import MindNode
from genloom.runtime import Runtime
from tests.conftest import drain
from tests.identity.conftest import PASSWORD, bearer, create_user, login

Serve = Callable[..., AbstractAsyncContextManager[str]]


@asynccontextmanager
async def _in_process(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Like the ``client`` fixture, but a crash is answered (500) instead of raised into the test."""
    app = create_app(runtime=runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@asynccontextmanager
async def _over_socket(live_server: Serve) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server(workers=0) as url, httpx.AsyncClient(base_url=url, timeout=30) as c:
        yield c


async def _register_then_login(c: httpx.AsyncClient, rounds: int, prefix: str) -> list[tuple[int, int]]:
    misses: list[tuple[int, int]] = []
    for i in range(rounds):
        name = f"{prefix}{i}"
        r = await c.post("/auth/register", json={"username": name, "password": PASSWORD})
        assert r.status_code == 201, r.text
        signed_in = await c.post("/auth/login", json={"username": name, "password": PASSWORD})
        if signed_in.status_code != 200:
            misses.append((i, signed_in.status_code))
    return misses


def _rounds(database_url: str) -> int:
    return 200 if database_url.startswith("postgresql") else 25


# Each round hashes and verifies an argon2id password (about 0.1 s on an idle core): allow a busy machine time.
@pytest.mark.timeout(1500)
async def test_register_then_login_in_process(runtime: Runtime, database_url: str) -> None:
    async with _in_process(runtime) as c:
        assert await _register_then_login(c, _rounds(database_url), "local") == []


@pytest.mark.timeout(1500)
async def test_register_then_login_over_a_socket(runtime: Runtime, live_server: Serve, database_url: str) -> None:
    async with _over_socket(live_server) as c:
        assert await _register_then_login(c, _rounds(database_url), "wire") == []


# --- every create route, read back at once over a real socket -------------------------------------------------


async def test_every_create_route_reads_back_at_once(runtime: Runtime, live_server: Serve) -> None:
    await create_user(runtime, "mei")
    async with _over_socket(live_server) as c:
        auth = bearer(await login(c, "mei"))
        for _ in range(5):
            # native jobs
            r = await c.post("/v1/jobs", json={"kind": "noop", "input": {"n": 1}}, headers=auth)
            assert r.status_code == 202, r.text
            got = await c.get(f"/v1/jobs/{r.json()['id']}", headers=auth)
            assert got.status_code == 200 and got.json()["status"] == "queued", got.text

            # cineMind nodes
            r = await c.post("/nodes", json={"content": "雨夜的霓虹街道"})
            assert r.status_code == 201, r.text
            node_id = r.json()["data"]["id"]
            got = await c.get(f"/nodes/{node_id}")
            assert got.status_code == 200 and got.json()["data"]["content"] == "雨夜的霓虹街道", got.text

            # cineMind tasks
            r = await c.post("/tasks/generate", json={"主体": "猫", "关联节点": [node_id]})
            assert r.status_code == 202, r.text
            got = await c.get(f"/tasks/{r.json()['data']['taskId']}")
            assert got.status_code == 200, got.text

            # Studio
            r = await c.post("/api/generate", json={"prompt": "a cat in neon light"})
            assert r.status_code == 202, r.text
            got = await c.get(f"/api/status/{r.json()['job_id']}")
            assert got.status_code == 200 and got.json()["status"] == "queued", got.text

            # identity: an admin-free account of one's own
            r = await c.post("/auth/register", json={"username": f"reader{_}", "password": PASSWORD})
            assert r.status_code == 201, r.text
            assert (await login(c, f"reader{_}"))["access_token"]

        # ratings: a finished job of the caller's, rated then read
        r = await c.post("/v1/jobs", json={"kind": "noop", "input": {}}, headers=auth)
        job_id = r.json()["id"]
        await drain(runtime)
        for score in (1, 2, 3, 4, 5):
            r = await c.put(f"/v1/jobs/{job_id}/rating", json={"score": score}, headers=auth)
            assert r.status_code == 200, r.text
            got = await c.get(f"/v1/jobs/{job_id}/rating", headers=auth)
            assert got.status_code == 200 and got.json()["score"] == score, got.text

        # media upload to a presigned local URL, then the file
        for i in range(5):
            key = f"uploads/at-once-{i}.png"
            put = runtime.blobs.presign_put(key, mime="image/png", max_bytes=1000)
            split = urlsplit(str(put["url"]))
            r = await c.put(f"{split.path}?{split.query}", content=b"\x89PNG-bytes-%d" % i,
                            headers={"Content-Type": "image/png"})
            assert r.status_code == 200, r.text
            assert await runtime.blobs.get(key) == b"\x89PNG-bytes-%d" % i


# --- a commit that fails answers 5xx and leaves nothing ----------------------------------------------------------

DOOMED_USER = "doomed"
DOOMED_NODE = "这条节点提交时失败"


def _refusal_sql(runtime: Runtime) -> tuple[list[str], list[str]]:
    """DDL making a COMMIT fail when it holds the doomed user or node: their INSERT fires a trigger that writes a row
    whose foreign key is deferred to COMMIT and points nowhere. (setup, teardown)."""
    tables = [
        "CREATE TABLE commit_refusal_targets (id VARCHAR(8) PRIMARY KEY)",
        "CREATE TABLE commit_refusals (ref VARCHAR(8) REFERENCES commit_refusal_targets (id)"
        " DEFERRABLE INITIALLY DEFERRED)",
    ]
    drop = ["DROP TABLE IF EXISTS commit_refusals", "DROP TABLE IF EXISTS commit_refusal_targets"]
    if runtime.db.is_sqlite:
        triggers = [
            f"CREATE TRIGGER refuse_user AFTER INSERT ON users WHEN NEW.username = '{DOOMED_USER}' "
            "BEGIN INSERT INTO commit_refusals (ref) VALUES ('nowhere'); END",
            f"CREATE TRIGGER refuse_node AFTER INSERT ON mind_nodes WHEN NEW.content = '{DOOMED_NODE}' "
            "BEGIN INSERT INTO commit_refusals (ref) VALUES ('nowhere'); END",
        ]
        return tables + triggers, ["DROP TRIGGER IF EXISTS refuse_user", "DROP TRIGGER IF EXISTS refuse_node", *drop]
    triggers = [
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO commit_refusals (ref) VALUES ('nowhere'); RETURN NEW; END $$",
        f"CREATE TRIGGER refuse_user AFTER INSERT ON users FOR EACH ROW WHEN (NEW.username = '{DOOMED_USER}') "
        "EXECUTE FUNCTION refuse_at_commit()",
        f"CREATE TRIGGER refuse_node AFTER INSERT ON mind_nodes FOR EACH ROW WHEN (NEW.content = '{DOOMED_NODE}') "
        "EXECUTE FUNCTION refuse_at_commit()",
    ]
    return tables + triggers, ["DROP TRIGGER IF EXISTS refuse_user ON users",
                               "DROP TRIGGER IF EXISTS refuse_node ON mind_nodes", *drop,
                               "DROP FUNCTION IF EXISTS refuse_at_commit()"]


@pytest.fixture
async def refusing(runtime: Runtime) -> AsyncIterator[None]:
    """The refusal DDL, removed afterwards (the PostgreSQL test database outlives the test)."""
    setup, teardown = _refusal_sql(runtime)
    try:
        async with runtime.db.write() as conn:
            for sql in setup:
                await conn.execute(text(sql))
        yield
    finally:
        async with runtime.db.write() as conn:
            for sql in teardown:
                await conn.execute(text(sql))


async def _left_behind(runtime: Runtime) -> tuple[int, int]:
    async with runtime.db.read_session() as s:
        users = (await s.execute(select(func.count()).select_from(User).where(User.username == DOOMED_USER))).scalar()
        nodes = (await s.execute(select(func.count()).select_from(MindNode)
                                 .where(MindNode.content == DOOMED_NODE))).scalar()
    return int(users or 0), int(nodes or 0)


async def _refused(c: httpx.AsyncClient) -> None:
    # the native/identity error shape: RFC 9457 problem+json
    r = await c.post("/auth/register", json={"username": DOOMED_USER, "password": PASSWORD})
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == "internal_error" and body["status"] == 500
    assert (await c.post("/auth/login", json={"username": DOOMED_USER, "password": PASSWORD})).status_code == 401

    # cineMind's envelope
    r = await c.post("/nodes", json={"content": DOOMED_NODE})
    assert r.status_code == 500, r.text
    assert r.json()["code"] == 50001 and r.json()["message"]

    # the same routes still work for everything else
    assert (await c.post("/auth/register", json={"username": "spared", "password": PASSWORD})).status_code == 201
    assert (await c.post("/nodes", json={"content": "平常的节点"})).status_code == 201


async def test_a_failed_commit_answers_500_in_process(runtime: Runtime, refusing: None) -> None:
    async with _in_process(runtime) as c:
        await _refused(c)
    assert await _left_behind(runtime) == (0, 0)


async def test_a_failed_commit_answers_500_over_a_socket(runtime: Runtime, refusing: None,
                                                         live_server: Serve) -> None:
    async with _over_socket(live_server) as c:
        await _refused(c)
    assert await _left_behind(runtime) == (0, 0)
