"""The database (SQLite or PostgreSQL) and the optional Redis."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from genloom.core.settings.fields import alias


class DatabaseSettings(BaseSettings):
    database_url: str = Field(default="", validation_alias=alias("GENLOOM_DATABASE_URL", "DATABASE_URL"))
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_pool_pre_ping: bool = Field(default=False)
    db_busy_timeout_ms: int = Field(default=10_000, ge=0)
    db_auto_migrate: bool = Field(default=True)
    # seed 002 names its PostgreSQL settings TEST_DB_*; they assemble a URL when DATABASE_URL is unset.
    test_db_host: str = Field(default="", validation_alias=alias("TEST_DB_HOST"))
    test_db_port: int = Field(default=5432, validation_alias=alias("TEST_DB_PORT"))
    test_db_user: str = Field(default="", validation_alias=alias("TEST_DB_USER"))
    test_db_password: str = Field(default="", repr=False, validation_alias=alias("TEST_DB_PASSWORD"))
    test_db_name: str = Field(default="", validation_alias=alias("TEST_DB_NAME"))

    # redis
    use_redis: bool = Field(default=False, validation_alias=alias("GENLOOM_USE_REDIS", "USE_REDIS"))
    redis_url: str = Field(default="", validation_alias=alias("GENLOOM_REDIS_URL", "REDIS_URL"))
    redis_host: str = Field(default="127.0.0.1", validation_alias=alias("GENLOOM_REDIS_HOST", "REDIS_HOST"))
    redis_port: int = Field(default=6379, validation_alias=alias("GENLOOM_REDIS_PORT", "REDIS_PORT"))
    redis_prefix: str = Field(default="genloom")
