"""All of genloom's configuration, in one place.

Values come from the environment, then `.env.<GENLOOM_ENV>`, then `.env` (earlier wins). genloom's own names
start with ``GENLOOM_``; the seed applications' names (``HOST``, ``PORT``, ``USE_REDIS``, ``QWEN_API_KEY`` …)
are accepted as aliases so their existing ``.env`` files keep working.

Build settings once with :func:`load_settings` and pass them down; nothing reads them at import time.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Env(StrEnum):
    dev = "dev"  #: developer machine: friendly defaults
    prod = "prod"  #: production: refuses insecure defaults
    test = "test"  #: test suite


class AuthMode(StrEnum):
    open = "open"  #: anyone; rows are owned by the shared "public" owner
    client = "client"  #: an anonymous X-Client-Id (or a user) is required
    user = "user"  #: a signed-in user (Bearer JWT) is required


PROVIDER_NAMES = {"local", "dashscope", "ark", "comfyui", "openai", "make"}
PROVIDER_ALIASES = {"qwen": "dashscope", "zimage": "dashscope", "wan": "dashscope", "doubao": "ark", "seedance": "ark"}


def _provider(value: object) -> str:
    name = str(value or "local").strip().lower()
    name = PROVIDER_ALIASES.get(name, name)
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {value!r}; choose one of {sorted(PROVIDER_NAMES | set(PROVIDER_ALIASES))}")
    return name


class Settings(BaseSettings):
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

    # --- service -------------------------------------------------------------------------------------------
    env: Env = Field(default=Env.dev, validation_alias=_alias("GENLOOM_ENV", "APP_ENV", "NODE_ENV"))
    host: str = Field(default="127.0.0.1", validation_alias=_alias("GENLOOM_HOST", "HOST"))
    port: int = Field(default=8000, ge=1, le=65535, validation_alias=_alias("GENLOOM_PORT", "PORT"))
    data_dir: Path = Field(default=Path("./data"), validation_alias=_alias("GENLOOM_DATA_DIR"))
    public_base_url: str = Field(default="", validation_alias=_alias("GENLOOM_PUBLIC_BASE_URL"))
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"],
        validation_alias=_alias("GENLOOM_CORS_ORIGINS", "CORS_ORIGINS"),
    )
    secret_key: str = Field(default="dev-insecure-secret-change-me", repr=False, validation_alias=_alias("GENLOOM_SECRET_KEY", "SECRET_KEY"))

    # --- logging -------------------------------------------------------------------------------------------
    log_level: str = Field(default="INFO", validation_alias=_alias("GENLOOM_LOG_LEVEL", "LOG_LEVEL"))
    log_format: str = Field(default="text", pattern="^(text|json)$", validation_alias=_alias("GENLOOM_LOG_FORMAT", "LOG_FORMAT"))
    log_file: Path | None = Field(default=None, validation_alias=_alias("GENLOOM_LOG_FILE", "LOG_FILE"))
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, validation_alias=_alias("GENLOOM_LOG_FILE_MAX_BYTES"))
    log_file_backups: int = Field(default=5, ge=0, validation_alias=_alias("GENLOOM_LOG_FILE_BACKUPS"))

    # --- database ------------------------------------------------------------------------------------------
    database_url: str = Field(default="", validation_alias=_alias("GENLOOM_DATABASE_URL", "DATABASE_URL"))
    db_pool_size: int = Field(default=10, ge=1, validation_alias=_alias("GENLOOM_DB_POOL_SIZE"))
    db_max_overflow: int = Field(default=10, ge=0, validation_alias=_alias("GENLOOM_DB_MAX_OVERFLOW"))
    db_pool_timeout: float = Field(default=10.0, gt=0, validation_alias=_alias("GENLOOM_DB_POOL_TIMEOUT"))
    db_pool_pre_ping: bool = Field(default=False, validation_alias=_alias("GENLOOM_DB_POOL_PRE_PING"))
    db_busy_timeout_ms: int = Field(default=10_000, ge=0, validation_alias=_alias("GENLOOM_DB_BUSY_TIMEOUT_MS"))
    db_auto_migrate: bool = Field(default=True, validation_alias=_alias("GENLOOM_DB_AUTO_MIGRATE"))
    # seed 002 names its PostgreSQL settings TEST_DB_*; they assemble a URL when DATABASE_URL is unset.
    test_db_host: str = Field(default="", validation_alias=_alias("TEST_DB_HOST"))
    test_db_port: int = Field(default=5432, validation_alias=_alias("TEST_DB_PORT"))
    test_db_user: str = Field(default="", validation_alias=_alias("TEST_DB_USER"))
    test_db_password: str = Field(default="", repr=False, validation_alias=_alias("TEST_DB_PASSWORD"))
    test_db_name: str = Field(default="", validation_alias=_alias("TEST_DB_NAME"))

    # --- redis ---------------------------------------------------------------------------------------------
    use_redis: bool = Field(default=False, validation_alias=_alias("GENLOOM_USE_REDIS", "USE_REDIS"))
    redis_url: str = Field(default="", validation_alias=_alias("GENLOOM_REDIS_URL", "REDIS_URL"))
    redis_host: str = Field(default="127.0.0.1", validation_alias=_alias("GENLOOM_REDIS_HOST", "REDIS_HOST"))
    redis_port: int = Field(default=6379, validation_alias=_alias("GENLOOM_REDIS_PORT", "REDIS_PORT"))
    redis_prefix: str = Field(default="genloom", validation_alias=_alias("GENLOOM_REDIS_PREFIX"))

    # --- queue and workers ---------------------------------------------------------------------------------
    workers: int = Field(default=4, ge=0, le=256, validation_alias=_alias("GENLOOM_WORKERS"))
    lease_seconds: float = Field(default=60.0, ge=1.0, validation_alias=_alias("GENLOOM_LEASE_SECONDS"))
    job_max_attempts: int = Field(default=3, ge=1, le=50, validation_alias=_alias("GENLOOM_JOB_MAX_ATTEMPTS"))
    retry_base_seconds: float = Field(default=2.0, ge=0.0, validation_alias=_alias("GENLOOM_RETRY_BASE_SECONDS"))
    retry_cap_seconds: float = Field(default=300.0, ge=0.0, validation_alias=_alias("GENLOOM_RETRY_CAP_SECONDS"))
    kind_concurrency: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict, validation_alias=_alias("GENLOOM_KIND_CONCURRENCY"))
    poll_interval_seconds: float = Field(default=0.5, gt=0, validation_alias=_alias("GENLOOM_POLL_INTERVAL_SECONDS"))
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, validation_alias=_alias("GENLOOM_SHUTDOWN_GRACE_SECONDS"))
    retention_hours: float = Field(default=24.0, ge=24.0, validation_alias=_alias("GENLOOM_RETENTION_HOURS"))
    janitor_interval_seconds: float = Field(default=30.0, gt=0, validation_alias=_alias("GENLOOM_JANITOR_INTERVAL_SECONDS"))
    idempotency_hours: float = Field(default=24.0, gt=0, validation_alias=_alias("GENLOOM_IDEMPOTENCY_HOURS"))

    # --- events --------------------------------------------------------------------------------------------
    heartbeat_seconds: float = Field(default=15.0, gt=0, validation_alias=_alias("GENLOOM_HEARTBEAT_SECONDS"))
    event_queue_size: int = Field(default=1000, ge=10, validation_alias=_alias("GENLOOM_EVENT_QUEUE_SIZE"))
    event_poll_seconds: float = Field(default=0.25, gt=0, validation_alias=_alias("GENLOOM_EVENT_POLL_SECONDS"))
    # job snapshots kept in memory for status polling (0 turns the cache off); see docs/events.md
    read_cache_size: int = Field(default=10_000, ge=0, validation_alias=_alias("GENLOOM_READ_CACHE_SIZE"))

    # --- storage -------------------------------------------------------------------------------------------
    storage: str = Field(default="local", pattern="^(local|s3)$", validation_alias=_alias("GENLOOM_STORAGE", "STORAGE_BACKEND"))
    media_dir: Path | None = Field(default=None, validation_alias=_alias("GENLOOM_MEDIA_DIR", "MEDIA_DIR"))
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1, validation_alias=_alias("GENLOOM_MAX_UPLOAD_BYTES"))
    presign_expires_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600, validation_alias=_alias("GENLOOM_PRESIGN_EXPIRES_S", "PRESIGN_EXPIRES_S"))
    s3_endpoint: str = Field(default="", validation_alias=_alias("GENLOOM_S3_ENDPOINT", "S3_ENDPOINT"))
    s3_region: str = Field(default="us-east-1", validation_alias=_alias("GENLOOM_S3_REGION", "S3_REGION"))
    s3_bucket: str = Field(default="", validation_alias=_alias("GENLOOM_S3_BUCKET", "S3_BUCKET"))
    s3_access_key_id: str = Field(default="", validation_alias=_alias("GENLOOM_S3_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID"))
    s3_secret_access_key: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_S3_SECRET_ACCESS_KEY", "S3_SECRET_ACCESS_KEY"))
    s3_force_path_style: bool = Field(default=False, validation_alias=_alias("GENLOOM_S3_FORCE_PATH_STYLE", "S3_FORCE_PATH_STYLE"))
    s3_prefix: str = Field(default="", validation_alias=_alias("GENLOOM_S3_PREFIX", "S3_PREFIX"))

    # --- providers -----------------------------------------------------------------------------------------
    text_provider: str = Field(default="local", validation_alias=_alias("GENLOOM_TEXT_PROVIDER"))
    image_provider: str = Field(default="local", validation_alias=_alias("GENLOOM_IMAGE_PROVIDER"))
    video_provider: str = Field(default="local", validation_alias=_alias("GENLOOM_VIDEO_PROVIDER"))
    asr_provider: str = Field(default="local", validation_alias=_alias("GENLOOM_ASR_PROVIDER"))
    vision_provider: str = Field(default="local", validation_alias=_alias("GENLOOM_VISION_PROVIDER"))
    text_model: str = Field(default="", validation_alias=_alias("GENLOOM_TEXT_MODEL"))
    image_model: str = Field(default="", validation_alias=_alias("GENLOOM_IMAGE_MODEL"))
    video_model: str = Field(default="", validation_alias=_alias("GENLOOM_VIDEO_MODEL"))
    asr_model: str = Field(default="", validation_alias=_alias("GENLOOM_ASR_MODEL"))
    vision_model: str = Field(default="", validation_alias=_alias("GENLOOM_VISION_MODEL"))
    dashscope_base_url: str = Field(default="https://dashscope.aliyuncs.com", validation_alias=_alias("GENLOOM_DASHSCOPE_BASE_URL", "DASHSCOPE_BASE_URL"))
    ark_base_url: str = Field(default="https://ark.cn-beijing.volces.com/api/v3", validation_alias=_alias("GENLOOM_ARK_BASE_URL", "ARK_BASE_URL"))
    comfyui_url: str = Field(default="http://127.0.0.1:8188", validation_alias=_alias("GENLOOM_COMFYUI_URL", "COMFYUI_URL"))
    # extra ComfyUI workflow templates (*.json, name = file stem); they add to or replace the built-in sdxl/sd15
    comfyui_workflows_dir: Path | None = Field(default=None, validation_alias=_alias("GENLOOM_COMFYUI_WORKFLOWS_DIR", "COMFYUI_WORKFLOWS_DIR"))
    openai_base_url: str = Field(default="https://api.openai.com/v1", validation_alias=_alias("GENLOOM_OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    make_api_base_url: str = Field(default="", validation_alias=_alias("GENLOOM_MAKE_API_BASE_URL", "MAKE_API_BASE_URL"))
    dashscope_api_key: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY", "QWEN_API_KEY"))
    zimage_api_key: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_ZIMAGE_API_KEY", "ZIMAGE_API_KEY"))
    ark_api_key: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_ARK_API_KEY", "ARK_API_KEY", "AI_DOU_BAO_API_KEY"))
    openai_api_key: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_OPENAI_API_KEY", "OPENAI_API_KEY"))
    make_api_token: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_MAKE_API_TOKEN", "TEST_MAKE_API_TOKEN"))
    image_max_polling_attempts: int = Field(default=60, ge=1, validation_alias=_alias("GENLOOM_IMAGE_MAX_POLLING_ATTEMPTS", "TEST_IMAGE_MAX_POLLING_ATTEMPTS"))
    image_polling_interval: float = Field(default=2.0, gt=0, validation_alias=_alias("GENLOOM_IMAGE_POLLING_INTERVAL", "TEST_IMAGE_POLLING_INTERVAL"))
    provider_connect_timeout: float = Field(default=5.0, gt=0, validation_alias=_alias("GENLOOM_PROVIDER_CONNECT_TIMEOUT"))
    provider_read_timeout: float = Field(default=60.0, gt=0, validation_alias=_alias("GENLOOM_PROVIDER_READ_TIMEOUT"))
    provider_max_retries: int = Field(default=3, ge=0, le=10, validation_alias=_alias("GENLOOM_PROVIDER_MAX_RETRIES"))
    provider_concurrency: int = Field(default=4, ge=1, validation_alias=_alias("GENLOOM_PROVIDER_CONCURRENCY"))
    breaker_failures: int = Field(default=5, ge=1, validation_alias=_alias("GENLOOM_BREAKER_FAILURES"))
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0, validation_alias=_alias("GENLOOM_BREAKER_COOLDOWN_SECONDS"))
    download_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1, validation_alias=_alias("GENLOOM_DOWNLOAD_MAX_BYTES"))
    download_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias=_alias("GENLOOM_DOWNLOAD_ALLOW_HOSTS"))
    provider_backoff_base_seconds: float = Field(default=0.5, ge=0, validation_alias=_alias("GENLOOM_PROVIDER_BACKOFF_BASE_SECONDS"))
    provider_backoff_cap_seconds: float = Field(default=8.0, ge=0, validation_alias=_alias("GENLOOM_PROVIDER_BACKOFF_CAP_SECONDS"))
    task_poll_interval_seconds: float = Field(default=3.0, gt=0, validation_alias=_alias("GENLOOM_TASK_POLL_INTERVAL_SECONDS"))
    task_timeout_seconds: float = Field(default=600.0, gt=0, validation_alias=_alias("GENLOOM_TASK_TIMEOUT_SECONDS"))
    dashscope_workspace: str = Field(default="", validation_alias=_alias("GENLOOM_DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE"))
    # seed 002's "make" image API has no public spec: paths, auth header and field names are configurable.
    make_api_queue: str = Field(default="", validation_alias=_alias("GENLOOM_MAKE_API_QUEUE", "MakeApiQueue", "MAKE_API_QUEUE"))
    make_submit_path: str = Field(default="/v3/make_image", validation_alias=_alias("GENLOOM_MAKE_SUBMIT_PATH"))
    make_poll_path: str = Field(default="/v1/artifact/task/{task_id}", validation_alias=_alias("GENLOOM_MAKE_POLL_PATH"))
    make_auth_header: str = Field(default="x-token", validation_alias=_alias("GENLOOM_MAKE_AUTH_HEADER"))
    make_auth_scheme: str = Field(default="", validation_alias=_alias("GENLOOM_MAKE_AUTH_SCHEME"))
    make_body_style: str = Field(default="neta", pattern="^(neta|simple)$", validation_alias=_alias("GENLOOM_MAKE_BODY_STYLE"))
    make_task_id_fields: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["task_uuid", "uuid", "task_id", "id"], validation_alias=_alias("GENLOOM_MAKE_TASK_ID_FIELDS"))
    make_status_field: str = Field(default="task_status", validation_alias=_alias("GENLOOM_MAKE_STATUS_FIELD"))
    make_success_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["SUCCESS", "completed", "success", "SUCCEEDED"], validation_alias=_alias("GENLOOM_MAKE_SUCCESS_STATUSES"))
    make_failure_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["FAILURE", "failed", "error", "FAILED"], validation_alias=_alias("GENLOOM_MAKE_FAILURE_STATUSES"))
    make_policy_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ILLEGAL_IMAGE"], validation_alias=_alias("GENLOOM_MAKE_POLICY_STATUSES"))
    make_retry_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["TIMEOUT", "timeout"], validation_alias=_alias("GENLOOM_MAKE_RETRY_STATUSES"))
    make_image_url_fields: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["artifacts.0.url", "url", "image_url", "data.url", "images.0"], validation_alias=_alias("GENLOOM_MAKE_IMAGE_URL_FIELDS"))

    # --- identity: auth mode per surface, tokens, lockout, registration (docs/identity.md) --------------------
    auth_mode_native: AuthMode = Field(default=AuthMode.open, validation_alias=_alias("GENLOOM_AUTH_MODE_NATIVE"))
    auth_mode_studio: AuthMode = Field(default=AuthMode.open, validation_alias=_alias("GENLOOM_AUTH_MODE_STUDIO"))
    auth_mode_cinemind: AuthMode = Field(default=AuthMode.open, validation_alias=_alias("GENLOOM_AUTH_MODE_CINEMIND"))
    auth_mode_huaban: AuthMode = Field(default=AuthMode.client, validation_alias=_alias("GENLOOM_AUTH_MODE_HUABAN"))
    auth_mode_genflow: AuthMode = Field(default=AuthMode.user, validation_alias=_alias("GENLOOM_AUTH_MODE_GENFLOW"))
    # HS256 key for access tokens; empty = derived from GENLOOM_SECRET_KEY
    jwt_secret: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_JWT_SECRET", "JWT_SECRET"))
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60, validation_alias=_alias("GENLOOM_ACCESS_TOKEN_MINUTES"))
    refresh_token_days: int = Field(default=30, ge=1, le=365, validation_alias=_alias("GENLOOM_REFRESH_TOKEN_DAYS"))
    password_min_length: int = Field(default=8, ge=6, le=128, validation_alias=_alias("GENLOOM_PASSWORD_MIN_LENGTH"))
    login_max_failures: int = Field(default=5, ge=1, le=100, validation_alias=_alias("GENLOOM_LOGIN_MAX_FAILURES"))
    login_lockout_seconds: int = Field(default=900, ge=1, validation_alias=_alias("GENLOOM_LOGIN_LOCKOUT_SECONDS"))
    # open: anyone may register; admin: only an admin (Bearer) may; closed: nobody (admins use POST /users)
    registration: str = Field(default="open", pattern="^(open|admin|closed)$", validation_alias=_alias("GENLOOM_REGISTRATION"))
    # `genloom init-users` creates this admin when no admin exists yet
    admin_username: str = Field(default="admin", validation_alias=_alias("GENLOOM_ADMIN_USERNAME"))
    admin_password: str = Field(default="", repr=False, validation_alias=_alias("GENLOOM_ADMIN_PASSWORD"))
    admin_email: str = Field(default="", validation_alias=_alias("GENLOOM_ADMIN_EMAIL"))

    # --- content features ----------------------------------------------------------------------------------
    is_full_by_ai: bool = Field(default=False, validation_alias=_alias("GENLOOM_KEYWORDS_BY_AI", "Is_full_by_AI", "IS_FULL_BY_AI"))
    # cineMind prompt builder: a JSON file {"banned": [...], "aliases": {"term": "canonical"}}; unset = built-in lists
    cinemind_style_rules: Path | None = Field(default=None, validation_alias=_alias("GENLOOM_CINEMIND_STYLE_RULES"))

    @field_validator("cors_origins", "download_allow_hosts", "make_task_id_fields", "make_success_statuses",
                     "make_failure_statuses", "make_policy_statuses", "make_retry_statuses", "make_image_url_fields",
                     mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("kind_concurrency", mode="before")
    @classmethod
    def _parse_kinds(cls, value: Any) -> Any:
        # "image.generate=2,video.generate=1" is friendlier in a .env than JSON; both are accepted.
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                return json.loads(value)
            out: dict[str, int] = {}
            for part in value.split(","):
                if not part.strip():
                    continue
                kind, sep, limit = part.partition("=")
                if not sep or not kind.strip():
                    raise ValueError(f"expected kind=limit pairs separated by commas, got {part.strip()!r}")
                out[kind.strip()] = int(limit)
            return out
        return value

    @field_validator("log_file", "media_dir", "comfyui_workflows_dir", mode="before")
    @classmethod
    def _blank_path(cls, value: Any) -> Any:
        # An empty path would become Path(".") (the working directory), never what was meant.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("text_provider", "image_provider", "video_provider", "asr_provider", "vision_provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> str:
        return _provider(value)

    @field_validator("env", mode="before")
    @classmethod
    def _env_alias_words(cls, value: Any) -> Any:
        return _env_word(value) if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> str:
        level = str(value).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="before")
    @classmethod
    def _alias_models(cls, data: Any) -> Any:
        # GENLOOM_IMAGE_PROVIDER=wan means DashScope with a Wan model (the provider name alone would pick Z-Image).
        if isinstance(data, dict):
            raw = next((data[k] for k in ("image_provider", "GENLOOM_IMAGE_PROVIDER", "genloom_image_provider")
                        if k in data), None)
            has_model = any(data.get(k) for k in ("image_model", "GENLOOM_IMAGE_MODEL", "genloom_image_model"))
            if str(raw or "").strip().lower() == "wan" and not has_model:
                data = {**data, "image_model": "wan2.2-t2i-flash"}
        return data

    @model_validator(mode="after")
    def _derive(self) -> Settings:
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
        if self.env == Env.prod and self.secret_key == "dev-insecure-secret-change-me":
            raise ValueError("GENLOOM_SECRET_KEY must be set to a private value when GENLOOM_ENV=prod")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET is required when GENLOOM_STORAGE=s3")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def media_root(self) -> Path:
        assert self.media_dir is not None  # set by _derive
        return self.media_dir


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


class SettingsError(Exception):
    """Start-up refused: one line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """Read settings, layering `.env.<env>` over `.env`; raise SettingsError naming every bad setting."""
    chosen = env or os.environ.get("GENLOOM_ENV") or os.environ.get("APP_ENV") or os.environ.get("NODE_ENV")
    chosen = _env_word(chosen or _env_from_dotenv())
    files: tuple[str, ...] = (".env",)
    if chosen:
        files = (".env", f".env.{chosen}")  # later files win in pydantic-settings
        # Validated with the rest (not assigned afterwards), so prod's checks run and a bad name is reported.
        overrides = {"env": chosen, **overrides}
    try:
        return Settings(_env_file=files, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError([_describe(err) for err in exc.errors()]) from None
    except ValueError as exc:
        raise SettingsError([str(exc)]) from None


def _env_from_dotenv() -> str | None:
    """GENLOOM_ENV / APP_ENV written in `.env` itself also selects the `.env.<env>` layer."""
    from dotenv import dotenv_values

    values = {k.upper(): v for k, v in dotenv_values(".env", encoding="utf-8").items() if v}
    return values.get("GENLOOM_ENV") or values.get("APP_ENV") or values.get("NODE_ENV")


#: the words other stacks use for the same profiles (HuaBan's NODE_ENV=production, …)
ENV_WORDS = {"production": "prod", "development": "dev", "testing": "test"}


def _env_word(value: str | None) -> str | None:
    if not value:
        return None
    word = value.strip().lower()
    return ENV_WORDS.get(word, word)


def _describe(err: Any) -> str:
    loc = [str(part) for part in err.get("loc", ())]
    name = _env_name(loc[0]) if loc else "settings"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{name}: {msg}"


def env_names(field: str) -> list[str]:
    """Every environment name a field is read from, genloom's own first."""
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"GENLOOM_{field.upper()}"]


def _env_name(key: str) -> str:
    """The variable to blame for an error at ``key`` (a field name or one of its aliases): the one the user set."""
    field = key
    if key not in Settings.model_fields:
        field = next((f for f in Settings.model_fields if key.lower() in (n.lower() for n in env_names(f))), key)
    names = env_names(field) if field in Settings.model_fields else [key]
    present = {name.upper() for name in os.environ}
    return next((name for name in names if name.upper() in present), names[0])
