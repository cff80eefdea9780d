"""Alibaba Cloud DashScope (Model Studio): Qwen chat, Z-Image and Wan images, Paraformer / Fun-ASR speech
recognition and Qwen-VL vision. Protocols: PROVIDERS.md §1."""

from __future__ import annotations

from typing import Any

from genloom.core.settings import Settings
from genloom.providers.dashscope.asr import DashScopeAsr
from genloom.providers.dashscope.common import (
    DEFAULT_ASR_MODEL,
    DEFAULT_IMAGE_MODEL,
    DEFAULT_TEXT_MODEL,
    DEFAULT_VISION_MODEL,
    DEFAULT_WAN_MODEL,
    PROVIDER,
    DashScopeClient,
)
from genloom.providers.dashscope.image import DashScopeImage
from genloom.providers.dashscope.text import QwenText
from genloom.providers.dashscope.vision import QwenVision
from genloom.providers.resilience import GuardRegistry

__all__ = [
    "DEFAULT_ASR_MODEL", "DEFAULT_IMAGE_MODEL", "DEFAULT_TEXT_MODEL", "DEFAULT_VISION_MODEL", "DEFAULT_WAN_MODEL",
    "PROVIDER", "DashScopeAsr", "DashScopeClient", "DashScopeImage", "QwenText", "QwenVision",
    "build", "required_settings",
]


def required_settings(settings: Settings, capability: str) -> list[str]:
    """The settings a capability served by DashScope lacks (empty when it can start)."""
    missing: list[str] = []
    if not settings.dashscope_base_url:
        missing.append("DASHSCOPE_BASE_URL")
    key = settings.dashscope_api_key
    if capability == "image" and _is_zimage(settings):
        key = settings.zimage_api_key or key
        if not key:
            missing.append("ZIMAGE_API_KEY (or DASHSCOPE_API_KEY)")
            return missing
    if not key:
        missing.append("DASHSCOPE_API_KEY (or QWEN_API_KEY)")
    return missing


def _is_zimage(settings: Settings) -> bool:
    from genloom.providers.dashscope.image import is_task_model

    return not is_task_model(settings.image_model or DEFAULT_IMAGE_MODEL)


def build(settings: Settings, capability: str, guards: GuardRegistry) -> Any:
    """The DashScope provider for ``capability`` (text, image, asr, vision). The guard (breaker, limit) and the
    HTTP clients (one per key) are shared by every DashScope capability of the runtime."""
    guard, clients = guards.get(PROVIDER), guards.clients

    def client_for(key: str) -> DashScopeClient:
        cache_key = f"dashscope:{key}"
        if cache_key not in clients:
            clients[cache_key] = DashScopeClient(settings, guard=guard, api_key=key)
        return clients[cache_key]  # type: ignore[no-any-return]

    main = client_for(settings.dashscope_api_key) if settings.dashscope_api_key else None
    if capability == "text":
        assert main is not None
        return QwenText(main, settings.text_model)
    if capability == "image":
        zkey = settings.zimage_api_key or settings.dashscope_api_key
        zimage = client_for(zkey)
        return DashScopeImage(main or zimage, settings.image_model, zimage_client=zimage)
    if capability == "asr":
        assert main is not None
        return DashScopeAsr(main, settings.asr_model)
    if capability == "vision":
        assert main is not None
        return QwenVision(main, settings.vision_model)
    raise ValueError(f"dashscope has no {capability} capability")
