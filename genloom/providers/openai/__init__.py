"""OpenAI: chat (plain and streamed), image generation and audio transcription. Protocols: PROVIDERS.md §4.
The chat protocol lives in :mod:`genloom.providers.openai.compat`, shared with Ark."""

from __future__ import annotations

from typing import Any

from genloom.providers.openai.compat import CompatClient, CompatText, CompatVision
from genloom.providers.openai.media import OpenAIAsr, OpenAIImage
from genloom.providers.resilience import guards_for

PROVIDER = "openai"
DEFAULTS = {"text": "gpt-4o-mini", "vision": "gpt-4o-mini", "image": "gpt-image-1", "asr": "whisper-1"}

__all__ = ["DEFAULTS", "PROVIDER", "OpenAIAsr", "OpenAIImage", "build", "required_settings"]


def required_settings(settings: Any, capability: str) -> list[str]:
    """The settings OpenAI lacks to serve ``capability`` (empty when it can start)."""
    missing: list[str] = []
    if not settings.openai_base_url:
        missing.append("OPENAI_BASE_URL")
    if not settings.openai_api_key:
        missing.append("OPENAI_API_KEY")
    return missing


def build(settings: Any, capability: str) -> Any:
    """The OpenAI provider for ``capability`` (text, vision, image, asr); one HTTP client per process."""
    registry = guards_for(settings)
    guard, clients = registry.get(PROVIDER), registry.clients
    if PROVIDER not in clients:
        clients[PROVIDER] = CompatClient(settings, provider=PROVIDER, base_url=settings.openai_base_url,
                                         api_key=settings.openai_api_key, guard=guard)
    client: CompatClient = clients[PROVIDER]
    model = str(getattr(settings, f"{capability}_model", "") or DEFAULTS.get(capability, ""))
    if capability == "text":
        return CompatText(client, model)
    if capability == "vision":
        return CompatVision(client, model)
    if capability == "image":
        return OpenAIImage(client, model)
    if capability == "asr":
        return OpenAIAsr(client, model)
    raise ValueError(f"openai has no {capability} capability")
