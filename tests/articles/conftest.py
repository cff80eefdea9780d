"""Article test helpers: users made through the identity service, principals for each kind of caller."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from genloom.core.principal import ANONYMOUS, SYSTEM, Principal
from genloom.identity import service as users
from genloom.runtime import Runtime

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Cast:
    author: Principal
    collaborator: Principal
    other: Principal
    admin: Principal
    anonymous: Principal


async def make_user(runtime: Runtime, username: str, *, admin: bool = False) -> Principal:
    async with runtime.db.session() as s:
        user = await users.create_user(s, SYSTEM, username=username, password=PASSWORD, email=None,
                                       roles=["admin", "user"] if admin else ["user"])
        return users.principal_for(user)


@pytest.fixture
async def cast(runtime: Runtime) -> Cast:
    return Cast(author=await make_user(runtime, "author"), collaborator=await make_user(runtime, "collab"),
                other=await make_user(runtime, "other"), admin=await make_user(runtime, "admin", admin=True),
                anonymous=ANONYMOUS)


async def token_for(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
