"""Volcengine Ark: Doubao chat and vision (OpenAI-compatible ``/chat/completions``) and Seedance video tasks.
Protocols: PROVIDERS.md §2."""

from __future__ import annotations

from typing import Any

from genloom.providers.ark.video import SeedanceVideo
from genloom.providers.openai.compat import CompatClient, CompatText, CompatVision
from genloom.providers.resilience import guards_for

PROVIDER = "ark"
DEFAULT_TEXT_MODEL = "doubao-1-5-pro-256k-250115"
DEFAULT_VISION_MODEL = "doubao-1-5-vision-pro-32k-250115"
DEFAULT_VIDEO_MODEL = "doubao-seedance-1-0-pro-250528"
DEFAULTS = {"text": DEFAULT_TEXT_MODEL, "vision": DEFAULT_VISION_MODEL, "video": DEFAULT_VIDEO_MODEL}

__all__ = ["DEFAULTS", "PROVIDER", "SeedanceVideo", "build", "required_settings"]


def required_settings(settings: Any, capability: str) -> list[str]:
    """The settings Ark lacks to serve ``capability`` (empty when it can start)."""
    missing: list[str] = []
    if not settings.ark_base_url:
        missing.append("ARK_BASE_URL")
    if not settings.ark_api_key:
        missing.append("ARK_API_KEY (or AI_DOU_BAO_API_KEY)")
    return missing


def build(settings: Any, capability: str) -> Any:
    """The Ark provider for ``capability`` (text, vision, video); one HTTP client per process is shared."""
    registry = guards_for(settings)
    guard, clients = registry.get(PROVIDER), registry.clients
    if PROVIDER not in clients:
        clients[PROVIDER] = CompatClient(settings, provider=PROVIDER, base_url=settings.ark_base_url,
                                         api_key=settings.ark_api_key, guard=guard)
    client: CompatClient = clients[PROVIDER]
    model = str(getattr(settings, f"{capability}_model", "") or DEFAULTS.get(capability, ""))
    if capability == "text":
        return CompatText(client, model)
    if capability == "vision":
        # Doubao vision models are asked for JSON in words; not every one accepts response_format
        return CompatVision(client, model, json_mode=False)
    if capability == "video":
        return SeedanceVideo(client, model, poll_interval=settings.task_poll_interval_seconds,
                             timeout=settings.task_timeout_seconds)
    raise ValueError(f"ark has no {capability} capability")
