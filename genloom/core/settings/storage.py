"""Where media is kept: a local folder or an S3-compatible bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from genloom.core.settings.fields import alias, blank_path


class StorageSettings(BaseSettings):
    storage: str = Field(default="local", pattern="^(local|s3)$", validation_alias=alias("GENLOOM_STORAGE", "STORAGE_BACKEND"))
    media_dir: Path | None = Field(default=None, validation_alias=alias("GENLOOM_MEDIA_DIR", "MEDIA_DIR"))
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    presign_expires_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600, validation_alias=alias("GENLOOM_PRESIGN_EXPIRES_S", "PRESIGN_EXPIRES_S"))
    s3_endpoint: str = Field(default="", validation_alias=alias("GENLOOM_S3_ENDPOINT", "S3_ENDPOINT"))
    s3_region: str = Field(default="us-east-1", validation_alias=alias("GENLOOM_S3_REGION", "S3_REGION"))
    s3_bucket: str = Field(default="", validation_alias=alias("GENLOOM_S3_BUCKET", "S3_BUCKET"))
    s3_access_key_id: str = Field(default="", validation_alias=alias("GENLOOM_S3_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID"))
    s3_secret_access_key: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_S3_SECRET_ACCESS_KEY", "S3_SECRET_ACCESS_KEY"))
    s3_force_path_style: bool = Field(default=False, validation_alias=alias("GENLOOM_S3_FORCE_PATH_STYLE", "S3_FORCE_PATH_STYLE"))
    s3_prefix: str = Field(default="", validation_alias=alias("GENLOOM_S3_PREFIX", "S3_PREFIX"))
    # objects no asset names are deleted by `genloom janitor` once this old (never less than 3 leases + 5 min)
    media_orphan_age_hours: float = Field(default=24.0, gt=0)

    @field_validator("media_dir", mode="before")
    @classmethod
    def _blank_media_dir(cls, value: Any) -> Any:
        return blank_path(value)
