"""Two real ``genloom serve`` processes on one database: editors connected to different processes see each
other's edits and cursors (relayed over Redis; without Redis over LISTEN/NOTIFY on PostgreSQL, or read back from
the update log on SQLite, where cursors stay within each process)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from tests.genflow_live.conftest import PASSWORD, run_yjs
from tests.processes import genloom_env, serve


@pytest.mark.parametrize("relay", ["redis", "database"])
async def test_editors_on_two_processes_converge(database_url: str, tmp_path: Path, yjs_clients: Path,
                                                 relay: str) -> None:
    extra = {"GENLOOM_SECRET_KEY": "test-secret-key-for-genflow-tests", "GENLOOM_COLLAB_LEAVE_SECONDS": "0.5"}
    if relay == "redis":
        from tests.conftest import REDIS_URL

        if not REDIS_URL:
            pytest.skip("GENLOOM_TEST_REDIS_URL not set")
        extra |= {"USE_REDIS": "true", "REDIS_URL": REDIS_URL, "GENLOOM_REDIS_PREFIX": f"t{tmp_path.name[-12:]}"}
    env = genloom_env(database_url, tmp_path, **extra)
    with contextlib.ExitStack() as stack:
        # a fresh database is migrated by the first process; on a busy machine that takes a while
        first = stack.enter_context(serve(env, workers=0, timeout=120))
        second = stack.enter_context(serve(env, workers=0, timeout=120))
        async with httpx.AsyncClient(base_url=first, timeout=20) as client:
            tokens = []
            for name in ("alice", "bob"):
                assert (await client.post("/auth/register", json={"username": name, "password": PASSWORD})).status_code == 201
                r = await client.post("/auth/login", json={"username": name, "password": PASSWORD})
                tokens.append(r.json()["access_token"])
            headers = {"Authorization": f"Bearer {tokens[0]}"}
            r = await client.post("/articles", json={"title": "Two servers", "content": "Base. "}, headers=headers)
            assert r.status_code == 201, r.text
            article_id = r.json()["id"]
            bob_id = (await client.get("/users/me", headers={"Authorization": f"Bearer {tokens[1]}"})).json()["id"]
            r = await client.put(f"/articles/{article_id}/collaborators/{bob_id}", headers=headers)
            assert r.status_code in (200, 201, 204), r.text
            urls = [u.replace("http://", "ws://") + "/ws/articles" for u in (first, second)]
            # editor i is on process i % 2; cursors cross processes unless there is only the SQLite log
            names = [f"editor{i}" for i in range(4)]
            local_only = relay == "database" and database_url.startswith("sqlite")
            expected = [[n for j, n in enumerate(names) if not local_only or j % 2 == i % 2] for i in range(4)]
            # editor 0's first edit is larger than a NOTIFY payload: it is relayed as a pointer into the log
            result = await run_yjs(yjs_clients, urls=urls, doc=article_id, tokens=[tokens[0], tokens[1]] * 2,
                                   mode="edit", edits=6, awareness=expected, bigEdit=12_000, timeoutMs=60000)
            assert result["converged"] and result["distinct"] == 1, result["closes"]
            assert all(f"[e{i}.{k}]" in result["text"] for i in range(4) for k in range(6))
            assert result["text"].count("Base. ") == 1  # both processes seeded the same text once
            assert "[big" + "x" * (12_000 - 5) + "]" in result["text"]
            assert [sorted(seen) for seen in result["seen"]] == expected, result["seen"]
