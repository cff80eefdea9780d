"""AI providers: which one serves each capability, their endpoints, keys, timeouts and resilience."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from genloom.core.settings.fields import alias, blank_path, split_list

PROVIDER_NAMES = {"local", "dashscope", "ark", "comfyui", "openai", "make"}
PROVIDER_ALIASES = {"qwen": "dashscope", "zimage": "dashscope", "wan": "dashscope", "doubao": "ark", "seedance": "ark"}


def provider_name(value: object) -> str:
    name = str(value or "local").strip().lower()
    name = PROVIDER_ALIASES.get(name, name)
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {value!r}; choose one of {sorted(PROVIDER_NAMES | set(PROVIDER_ALIASES))}")
    return name


class ProviderSettings(BaseSettings):
    text_provider: str = Field(default="local")
    image_provider: str = Field(default="local")
    video_provider: str = Field(default="local")
    asr_provider: str = Field(default="local")
    vision_provider: str = Field(default="local")
    text_model: str = Field(default="")
    image_model: str = Field(default="")
    video_model: str = Field(default="")
    asr_model: str = Field(default="")
    vision_model: str = Field(default="")
    dashscope_base_url: str = Field(default="https://dashscope.aliyuncs.com", validation_alias=alias("GENLOOM_DASHSCOPE_BASE_URL", "DASHSCOPE_BASE_URL"))
    ark_base_url: str = Field(default="https://ark.cn-beijing.volces.com/api/v3", validation_alias=alias("GENLOOM_ARK_BASE_URL", "ARK_BASE_URL"))
    comfyui_url: str = Field(default="http://127.0.0.1:8188", validation_alias=alias("GENLOOM_COMFYUI_URL", "COMFYUI_URL"))
    # extra ComfyUI workflow templates (*.json, name = file stem); they add to or replace the built-in sdxl/sd15
    comfyui_workflows_dir: Path | None = Field(default=None, validation_alias=alias("GENLOOM_COMFYUI_WORKFLOWS_DIR", "COMFYUI_WORKFLOWS_DIR"))
    openai_base_url: str = Field(default="https://api.openai.com/v1", validation_alias=alias("GENLOOM_OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    make_api_base_url: str = Field(default="", validation_alias=alias("GENLOOM_MAKE_API_BASE_URL", "MAKE_API_BASE_URL"))
    dashscope_api_key: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY", "QWEN_API_KEY"))
    zimage_api_key: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_ZIMAGE_API_KEY", "ZIMAGE_API_KEY"))
    ark_api_key: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_ARK_API_KEY", "ARK_API_KEY", "AI_DOU_BAO_API_KEY"))
    openai_api_key: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_OPENAI_API_KEY", "OPENAI_API_KEY"))
    make_api_token: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_MAKE_API_TOKEN", "TEST_MAKE_API_TOKEN"))
    image_max_polling_attempts: int = Field(default=60, ge=1, validation_alias=alias("GENLOOM_IMAGE_MAX_POLLING_ATTEMPTS", "TEST_IMAGE_MAX_POLLING_ATTEMPTS"))
    image_polling_interval: float = Field(default=2.0, gt=0, validation_alias=alias("GENLOOM_IMAGE_POLLING_INTERVAL", "TEST_IMAGE_POLLING_INTERVAL"))
    provider_connect_timeout: float = Field(default=5.0, gt=0)
    provider_read_timeout: float = Field(default=60.0, gt=0)
    provider_max_retries: int = Field(default=3, ge=0, le=10)
    provider_concurrency: int = Field(default=4, ge=1)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    download_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    download_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    provider_backoff_base_seconds: float = Field(default=0.5, ge=0)
    provider_backoff_cap_seconds: float = Field(default=8.0, ge=0)
    task_poll_interval_seconds: float = Field(default=3.0, gt=0)
    task_timeout_seconds: float = Field(default=600.0, gt=0)
    dashscope_workspace: str = Field(default="", validation_alias=alias("GENLOOM_DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE"))
    # seed 002's "make" image API has no public spec: paths, auth header and field names are configurable.
    make_api_queue: str = Field(default="", validation_alias=alias("GENLOOM_MAKE_API_QUEUE", "MakeApiQueue", "MAKE_API_QUEUE"))
    make_submit_path: str = Field(default="/v3/make_image")
    make_poll_path: str = Field(default="/v1/artifact/task/{task_id}")
    make_auth_header: str = Field(default="x-token")
    make_auth_scheme: str = Field(default="")
    make_body_style: str = Field(default="neta", pattern="^(neta|simple)$")
    make_task_id_fields: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["task_uuid", "uuid", "task_id", "id"])
    make_status_field: str = Field(default="task_status")
    make_success_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["SUCCESS", "completed", "success", "SUCCEEDED"])
    make_failure_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["FAILURE", "failed", "error", "FAILED"])
    make_policy_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ILLEGAL_IMAGE"])
    make_retry_statuses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["TIMEOUT", "timeout"])
    make_image_url_fields: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["artifacts.0.url", "url", "image_url", "data.url", "images.0"])

    @field_validator("download_allow_hosts", "make_task_id_fields", "make_success_statuses", "make_failure_statuses",
                     "make_policy_statuses", "make_retry_statuses", "make_image_url_fields", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("comfyui_workflows_dir", mode="before")
    @classmethod
    def _blank_workflows_dir(cls, value: Any) -> Any:
        return blank_path(value)

    @field_validator("text_provider", "image_provider", "video_provider", "asr_provider", "vision_provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> str:
        return provider_name(value)

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
