"""HuaBan: upload caps, rate limits, the origin allow-list, how Seedance reads the drawing, clean-up ages."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from genloom.core.settings.fields import split_list

DEFAULT_RATE_LIMITS = "presign=60/min,commit=60/min,generation=10/min,default=300/min"


class HuabanSettings(BaseSettings):
    huaban_max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    huaban_max_audio_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    huaban_max_video_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # per client id and route group: name=limit/period, comma separated (groups: presign, commit, upload,
    # generation, default)
    huaban_rate_limits: str = Field(default=DEFAULT_RATE_LIMITS)
    # Origin/Referer values allowed to call the HuaBan API (comma separated); empty = any
    huaban_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # how the video provider receives the drawing: data (a data: URL, works behind any firewall) or url (a
    # presigned GET URL; only when the store is reachable from the provider)
    huaban_image_transport: str = Field(default="data", pattern="^(data|url)$")
    huaban_video_duration_s: int = Field(default=5, ge=1, le=10)
    huaban_video_resolution: str = Field(default="720p", pattern="^(480p|720p|1080p)$")
    # presigned uploads never committed are deleted after this many hours
    huaban_upload_ttl_hours: float = Field(default=24.0, gt=0)

    @field_validator("huaban_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        return [o.rstrip("/") for o in split_list(value)] if isinstance(value, str) else value
