"""Password hashing with argon2id (argon2-cffi's RFC 9106 "low memory" profile).

Hashing takes tens of milliseconds of CPU on purpose, so it runs in a thread and never blocks the event loop.
Its cost comes from the ``GENLOOM_PASSWORD_HASH_*`` settings, applied by :func:`configure` when a runtime is
built (one process hashes with one cost).
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from genloom.core.settings import Settings

_hasher = PasswordHasher()  # argon2id by default, with the settings' default cost


def configure(settings: Settings) -> None:
    """Hash new passwords with the settings' argon2id cost (old hashes still verify, and are redone at login)."""
    global _hasher
    hasher = PasswordHasher(time_cost=settings.password_hash_time_cost,
                            memory_cost=settings.password_hash_memory_kib,
                            parallelism=settings.password_hash_parallelism)
    if hasher.time_cost != _hasher.time_cost or hasher.memory_cost != _hasher.memory_cost \
            or hasher.parallelism != _hasher.parallelism:
        _hasher = hasher
        _dummy_hash.cache_clear()  # unknown usernames must cost what a real check costs


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so that "no such user" costs as much as "wrong password"."""
    return _hasher.hash("genloom-dummy-password")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash (unknown user) a dummy hash is checked and False returned."""
    if password_hash is None:
        await asyncio.to_thread(lambda: _verify(_dummy_hash(), password))
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the configured ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
