"""What the settings mixins share: alias lists and the parsers for values written in a ``.env`` file."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices


def alias(*names: str) -> AliasChoices:
    """Environment names a field is read from. A field with aliases is read only from them (``env_prefix`` no
    longer applies), so genloom's own ``GENLOOM_…`` name comes first in every list."""
    return AliasChoices(*names)


class Env(StrEnum):
    dev = "dev"  #: developer machine: friendly defaults
    prod = "prod"  #: production: refuses insecure defaults
    test = "test"  #: test suite


class AuthMode(StrEnum):
    open = "open"  #: anyone; rows are owned by the shared "public" owner
    client = "client"  #: an anonymous X-Client-Id (or a user) is required
    user = "user"  #: a signed-in user (Bearer JWT) is required


def split_list(value: Any) -> Any:
    """``a,b,c`` in a .env file is a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def blank_path(value: Any) -> Any:
    """An empty path would become Path(".") (the working directory), never what was meant."""
    return None if isinstance(value, str) and not value.strip() else value


#: the words other stacks use for the same profiles (HuaBan's NODE_ENV=production, …)
ENV_WORDS = {"production": "prod", "development": "dev", "testing": "test"}


def env_word(value: str | None) -> str | None:
    if not value:
        return None
    word = value.strip().lower()
    return ENV_WORDS.get(word, word)


def normalise_database_url(url: str) -> str:
    """Pick the async driver whatever scheme the user wrote (postgres://, postgresql://, sqlite://)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("postgresql+psycopg://") or url.startswith("postgresql+psycopg2://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url
