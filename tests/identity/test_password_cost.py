"""The argon2id cost comes from the settings: new hashes carry it, hashes of another cost still verify and are
redone at the next login, and GENLOOM_ENV=prod refuses a cost below RFC 9106's low-memory profile."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from genloom.core.settings import Settings
from genloom.identity import passwords
from genloom.identity.models import User
from genloom.runtime import Runtime
from tests.conftest import make_settings
from tests.identity.conftest import PASSWORD


@pytest.fixture
def restore_cost(settings: Settings) -> Iterator[None]:
    yield
    passwords.configure(settings)  # the process-wide cost every other test runs with


async def test_new_hashes_carry_the_configured_cost(restore_cost: None) -> None:
    passwords.configure(make_settings(password_hash_time_cost=2, password_hash_memory_kib=16,
                                      password_hash_parallelism=1))
    hashed = await passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert await passwords.verify_password(hashed, "correct horse")
    assert not await passwords.verify_password(hashed, "wrong horse")
    assert not passwords.needs_rehash(hashed)
    passwords.configure(make_settings(password_hash_time_cost=3, password_hash_memory_kib=16,
                                      password_hash_parallelism=1))
    assert await passwords.verify_password(hashed, "correct horse") and passwords.needs_rehash(hashed)


async def test_a_hash_of_another_cost_is_redone_at_login(runtime: Runtime, client: httpx.AsyncClient,
                                                         restore_cost: None) -> None:
    assert (await client.post("/auth/register", json={"username": "mei", "password": PASSWORD})).status_code == 201
    passwords.configure(make_settings(password_hash_time_cost=2, password_hash_memory_kib=32,
                                      password_hash_parallelism=1))
    assert (await client.post("/auth/login", json={"username": "mei", "password": PASSWORD})).status_code == 200
    async with runtime.db.read_session() as s:
        stored = (await s.execute(select(User.password_hash).where(User.username == "mei"))).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=32,t=2,p=1$")


def test_defaults_are_the_low_memory_profile_and_prod_refuses_less() -> None:
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (default.password_hash_time_cost, default.password_hash_memory_kib,
            default.password_hash_parallelism) == (3, 65536, 4)
    secret = {"env": "prod", "secret_key": "a-private-key-for-this-test-only-0123456789"}
    assert make_settings(**secret, password_hash_time_cost=3, password_hash_memory_kib=65536,
                         password_hash_parallelism=4).password_hash_time_cost == 3
    with pytest.raises(ValidationError, match="refuses password hashing below"):
        make_settings(**secret)  # the tests' cheap cost
