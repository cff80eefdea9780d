"""Identity test helpers: settings with a small lockout threshold, users made through the real services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.core.principal import SYSTEM
from genloom.core.settings import Settings
from genloom.identity import service
from genloom.runtime import Runtime
from tests.conftest import settings_for

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        database_url, tmp_path, login_max_failures=3, login_lockout_seconds=600,
        secret_key="test-secret-key-for-identity-tests",
    )


async def create_user(runtime: Runtime, username: str, *, admin: bool = False, password: str = PASSWORD,
                      email: str | None = None) -> str:
    """A user made through the service layer; returns the id."""
    async with runtime.db.session() as s:
        user = await service.create_user(s, SYSTEM, username=username, password=password, email=email,
                                         roles=["admin", "user"] if admin else ["user"])
        return user.id


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await client.post("/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
