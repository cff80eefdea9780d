"""``genloom create-user`` and ``genloom init-users`` as real commands (fresh processes, the test database)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from genloom.core.db import Database
from genloom.identity.models import User
from genloom.identity.passwords import verify_password
from tests.conftest import make_settings
from tests.processes import genloom_cmd, genloom_env


def _run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(genloom_cmd(*args), env=env, cwd=env["GENLOOM_DATA_DIR"], input=stdin, capture_output=True,
                          text=True, timeout=120)


def _users(database_url: str) -> dict[str, User]:
    async def go() -> dict[str, User]:
        db = Database(make_settings(database_url=database_url))
        try:
            async with db.read_session() as s:
                return {u.username: u for u in (await s.execute(select(User))).scalars()}
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_create_user(database_url: str, tmp_path: Path) -> None:
    env = genloom_env(database_url, tmp_path)
    out = _run(env, "create-user", "boss", "--admin", "--email", "boss@example.com", "--password-stdin",
               stdin="a long admin secret\n")
    assert out.returncode == 0, out.stderr
    assert "created user boss (admin, user)" in out.stdout
    assert "a long admin secret" not in out.stdout + out.stderr
    out = _run(env, "create-user", "mei", "--password-stdin", stdin="password123\n")
    assert out.returncode == 0, out.stderr
    users = _users(database_url)
    assert users["boss"].roles == ["admin", "user"] and users["boss"].email == "boss@example.com"
    assert users["mei"].roles == ["user"]
    assert asyncio.run(verify_password(users["mei"].password_hash, "password123"))
    assert users["mei"].password_hash.startswith("$argon2id$")

    out = _run(env, "create-user", "MEI", "--password-stdin", stdin="password123\n")
    assert out.returncode == 1 and "username is taken" in out.stderr
    out = _run(env, "create-user", "kai", "--password-stdin", stdin="short\n")
    assert out.returncode == 1 and "at least 8" in out.stderr
    out = _run(env, "create-user", "x", "--password-stdin", stdin="password123\n")
    assert out.returncode == 2
    # the interactive prompt asks twice and refuses a mismatch
    out = _run(env, "create-user", "kai", stdin="password123\npassword124\npassword123\npassword123\n")
    assert out.returncode == 0, out.stderr
    assert set(_users(database_url)) == {"boss", "mei", "kai"}


def test_init_users(database_url: str, tmp_path: Path) -> None:
    env = genloom_env(database_url, tmp_path)
    out = _run(env, "init-users")
    assert out.returncode == 1 and "GENLOOM_ADMIN_PASSWORD" in out.stderr
    env = {**env, "GENLOOM_ADMIN_USERNAME": "root", "GENLOOM_ADMIN_PASSWORD": "first admin secret"}
    out = _run(env, "init-users")
    assert out.returncode == 0 and "created administrator root" in out.stdout, out.stderr
    out = _run(env, "init-users")
    assert out.returncode == 0 and "already exists" in out.stdout
    users = _users(database_url)
    assert list(users) == ["root"] and "admin" in users["root"].roles
    assert "first admin secret" not in (os.linesep.join([out.stdout, out.stderr]))
