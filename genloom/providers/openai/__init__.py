"""OpenAI: chat (plain and streamed), image generation and audio transcription. Protocols: PROVIDERS.md §4.
The chat protocol lives in :mod:`genloom.providers.openai.compat`, shared with Ark and DashScope."""

from __future__ import annotations

from typing import Any

from genloom.core.settings import Settings
from genloom.providers.base import missing_settings
from genloom.providers.openai.compat import CompatText, CompatVision, build_compat
from genloom.providers.openai.media import OpenAIAsr, OpenAIImage
from genloom.providers.resilience import GuardRegistry

PROVIDER = "openai"
DEFAULTS = {"text": "gpt-4o-mini", "vision": "gpt-4o-mini", "image": "gpt-image-1", "asr": "whisper-1"}

__all__ = ["DEFAULTS", "PROVIDER", "OpenAIAsr", "OpenAIImage", "build", "required_settings"]


def required_settings(settings: Settings, capability: str) -> list[str]:
    """The settings OpenAI lacks to serve ``capability`` (empty when it can start)."""
    return missing_settings(settings, {"openai_base_url": "OPENAI_BASE_URL", "openai_api_key": "OPENAI_API_KEY"})


def build(settings: Settings, capability: str, guards: GuardRegistry) -> Any:
    """The OpenAI provider for ``capability`` (text, vision, image, asr); one HTTP client per process."""
    return build_compat(settings, capability, provider=PROVIDER, base_url=settings.openai_base_url,
                        api_key=settings.openai_api_key, defaults=DEFAULTS, guards=guards,
                        makers={"text": CompatText, "vision": CompatVision, "image": OpenAIImage, "asr": OpenAIAsr})
