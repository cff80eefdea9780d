"""Volcengine Ark: Doubao chat and vision (OpenAI-compatible ``/chat/completions``) and Seedance video tasks.
Protocols: PROVIDERS.md §2."""

from __future__ import annotations

from functools import partial
from typing import Any

from genloom.core.settings import Settings
from genloom.providers.ark.video import SeedanceVideo
from genloom.providers.base import missing_settings
from genloom.providers.openai.compat import CompatClient, CompatText, CompatVision, build_compat
from genloom.providers.resilience import GuardRegistry

PROVIDER = "ark"
DEFAULT_TEXT_MODEL = "doubao-1-5-pro-256k-250115"
DEFAULT_VISION_MODEL = "doubao-1-5-vision-pro-32k-250115"
DEFAULT_VIDEO_MODEL = "doubao-seedance-1-0-pro-250528"
DEFAULTS = {"text": DEFAULT_TEXT_MODEL, "vision": DEFAULT_VISION_MODEL, "video": DEFAULT_VIDEO_MODEL}

__all__ = ["DEFAULTS", "PROVIDER", "SeedanceVideo", "build", "required_settings"]


def required_settings(settings: Settings, capability: str) -> list[str]:
    """The settings Ark lacks to serve ``capability`` (empty when it can start)."""
    return missing_settings(settings, {"ark_base_url": "ARK_BASE_URL",
                                       "ark_api_key": "ARK_API_KEY (or AI_DOU_BAO_API_KEY)"})


def build(settings: Settings, capability: str, guards: GuardRegistry) -> Any:
    """The Ark provider for ``capability`` (text, vision, video); one HTTP client per process is shared."""

    def video(client: CompatClient, model: str) -> SeedanceVideo:
        return SeedanceVideo(client, model, poll_interval=settings.task_poll_interval_seconds,
                             timeout=settings.task_timeout_seconds)

    return build_compat(settings, capability, provider=PROVIDER, base_url=settings.ark_base_url,
                        api_key=settings.ark_api_key, defaults=DEFAULTS, guards=guards, makers={
                            "text": CompatText,
                            # Doubao vision models are asked for JSON in words; not every one accepts response_format
                            "vision": partial(CompatVision, json_mode=False),
                            "video": video,
                        })
