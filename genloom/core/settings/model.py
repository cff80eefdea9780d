"""The Settings class: the union of every area's mixin (see the package docstring)."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from genloom.core.settings.assistant import AssistantSettings
from genloom.core.settings.collab import CollabSettings
from genloom.core.settings.content import ContentSettings
from genloom.core.settings.database import DatabaseSettings
from genloom.core.settings.fields import Env, normalise_database_url
from genloom.core.settings.genflow import GenflowSettings
from genloom.core.settings.huaban import HuabanSettings
from genloom.core.settings.identity import IdentitySettings
from genloom.core.settings.providers import ProviderSettings
from genloom.core.settings.queue import QueueSettings
from genloom.core.settings.reliability import ReliabilitySettings
from genloom.core.settings.service import ServiceSettings
from genloom.core.settings.storage import StorageSettings

INSECURE_SECRET = "dev-insecure-secret-change-me"


class Settings(
    ServiceSettings,
    DatabaseSettings,
    QueueSettings,
    StorageSettings,
    ProviderSettings,
    IdentitySettings,
    ContentSettings,
    GenflowSettings,
    ReliabilitySettings,
    HuabanSettings,
    AssistantSettings,
    CollabSettings,
):
    """Every setting genloom reads. `.env.sample` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="GENLOOM_",
        env_file=(".env",),
        env_file_encoding="utf-8",
        # "PORT=" in a .env copied from .env.sample means "use the default", not "parse '' as an int".
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        """Derive what depends on several areas, and refuse what must not start."""
        if not self.database_url:
            if self.test_db_host and self.test_db_name:
                auth = self.test_db_user + (f":{self.test_db_password}" if self.test_db_password else "")
                self.database_url = (
                    f"postgresql+asyncpg://{auth}@{self.test_db_host}:{self.test_db_port}/{self.test_db_name}"
                )
            else:
                self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'genloom.db').as_posix()}"
        self.database_url = normalise_database_url(self.database_url)
        if self.media_dir is None:
            self.media_dir = self.data_dir / "media"
        if not self.redis_url:
            self.redis_url = f"redis://{self.redis_host}:{self.redis_port}/0"
        if self.env == Env.prod and self.secret_key == INSECURE_SECRET:
            raise ValueError("GENLOOM_SECRET_KEY must be set to a private value when GENLOOM_ENV=prod")
        if self.env == Env.prod and (self.password_hash_time_cost < 3 or self.password_hash_memory_kib < 65536
                                     or self.password_hash_parallelism < 4):
            raise ValueError("GENLOOM_ENV=prod refuses password hashing below argon2id t=3, m=65536 KiB, p=4")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET is required when GENLOOM_STORAGE=s3")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def media_root(self) -> Path:
        assert self.media_dir is not None  # set when the settings are built
        return self.media_dir
