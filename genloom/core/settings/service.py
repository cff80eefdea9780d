"""Where the service listens, its secret and CORS, and how it logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from genloom.core.settings.fields import Env, alias, blank_path, env_word, split_list


class ServiceSettings(BaseSettings):
    env: Env = Field(default=Env.dev, validation_alias=alias("GENLOOM_ENV", "APP_ENV", "NODE_ENV"))
    host: str = Field(default="127.0.0.1", validation_alias=alias("GENLOOM_HOST", "HOST"))
    port: int = Field(default=8000, ge=1, le=65535, validation_alias=alias("GENLOOM_PORT", "PORT"))
    data_dir: Path = Field(default=Path("./data"))
    public_base_url: str = Field(default="")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"],
        validation_alias=alias("GENLOOM_CORS_ORIGINS", "CORS_ORIGINS"),
    )
    secret_key: str = Field(default="dev-insecure-secret-change-me", repr=False, validation_alias=alias("GENLOOM_SECRET_KEY", "SECRET_KEY"))

    # logging
    log_level: str = Field(default="INFO", validation_alias=alias("GENLOOM_LOG_LEVEL", "LOG_LEVEL"))
    log_format: str = Field(default="text", pattern="^(text|json)$", validation_alias=alias("GENLOOM_LOG_FORMAT", "LOG_FORMAT"))
    log_file: Path | None = Field(default=None, validation_alias=alias("GENLOOM_LOG_FILE", "LOG_FILE"))
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_file_backups: int = Field(default=5, ge=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("env", mode="before")
    @classmethod
    def _env_alias_words(cls, value: Any) -> Any:
        return env_word(value) if isinstance(value, str) else value

    @field_validator("log_file", mode="before")
    @classmethod
    def _blank_log_file(cls, value: Any) -> Any:
        return blank_path(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> str:
        level = str(value).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level
