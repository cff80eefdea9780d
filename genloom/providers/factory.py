"""Build the provider chosen for each capability (``GENLOOM_TEXT_PROVIDER`` …) once per process.

``BUILDERS`` maps capability → provider name → a function of settings. Remote providers add their entries here;
a capability set to a provider with no builder is refused at start-up, never at the first job. Every capability
has a ``local`` (offline) implementation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from genloom.core.settings import Settings, SettingsError
from genloom.providers.base import Providers
from genloom.providers.resilience import guards_for

Builder = Callable[[Settings], Any]


def _local_text(settings: Settings) -> Any:
    from genloom.providers.local.text import LocalTextProvider

    return LocalTextProvider()


def _local_image(settings: Settings) -> Any:
    from genloom.providers.local.image import LocalImageProvider

    return LocalImageProvider()


def _local_video(settings: Settings) -> Any:
    from genloom.providers.local.video import LocalVideoProvider

    return LocalVideoProvider()


def _local_asr(settings: Settings) -> Any:
    from genloom.providers.local.asr import LocalAsrProvider

    return LocalAsrProvider()


def _local_vision(settings: Settings) -> Any:
    from genloom.providers.local.vision import LocalVisionProvider

    return LocalVisionProvider()


BUILDERS: dict[str, dict[str, Builder]] = {
    "text": {"local": _local_text},
    "image": {"local": _local_image},
    "video": {"local": _local_video},
    "asr": {"local": _local_asr},
    "vision": {"local": _local_vision},
}
#: capabilities a pipeline may find absent (None) when no builder exists for the chosen "local" provider
OPTIONAL = frozenset({"video", "asr", "vision"})


def missing_settings(settings: Settings, required: dict[str, str]) -> list[str]:
    """The names (values of ``required``) of the settings (its keys) left empty: a remote provider's
    ``required_settings`` for the credentials every one of its capabilities needs."""
    return [name for field, name in required.items() if not getattr(settings, field)]


def remote_builder(module: str, provider: str, capability: str) -> Builder:
    """A builder for a remote provider package exposing ``required_settings(settings, capability) -> [names]``
    and ``build(settings, capability)``: start-up is refused naming every missing setting."""

    def build(settings: Settings) -> Any:
        package = importlib.import_module(module)
        missing = package.required_settings(settings, capability)
        if missing:
            raise SettingsError([f"{name} is required when GENLOOM_{capability.upper()}_PROVIDER={provider}"
                                 for name in missing])
        return package.build(settings, capability)

    return build


for _capability in ("text", "image", "asr", "vision"):
    BUILDERS[_capability]["dashscope"] = remote_builder("genloom.providers.dashscope", "dashscope", _capability)
BUILDERS["image"]["make"] = remote_builder("genloom.providers.make", "make", "image")
for _capability in ("text", "vision", "video"):
    BUILDERS[_capability]["ark"] = remote_builder("genloom.providers.ark", "ark", _capability)
for _capability in ("text", "vision", "image", "asr"):
    BUILDERS[_capability]["openai"] = remote_builder("genloom.providers.openai", "openai", _capability)
BUILDERS["image"]["comfyui"] = remote_builder("genloom.providers.comfyui", "comfyui", "image")


def _chosen(settings: Settings, capability: str) -> str:
    return str(getattr(settings, f"{capability}_provider"))


def build_one(settings: Settings, capability: str) -> Any:
    """The provider for one capability, or None for an optional capability without a local implementation."""
    name = _chosen(settings, capability)
    builder = BUILDERS[capability].get(name)
    if builder is None:
        if capability in OPTIONAL and name == "local":
            return None
        raise SettingsError([f"GENLOOM_{capability.upper()}_PROVIDER: provider {name!r} is not available for {capability}"])
    return builder(settings)


def build_providers(settings: Settings) -> Providers:
    """Every capability's provider, built from settings (raises SettingsError for an unusable choice)."""
    built = {capability: build_one(settings, capability) for capability in BUILDERS}
    health = {f"{cap}:{getattr(p, 'name', '?')}": p for cap, p in built.items() if p is not None and hasattr(p, "status")}
    health.update(guards_for(settings).items())  # one guard (circuit breaker, limit) per remote provider
    return Providers(
        text=built["text"], image=built["image"], video=built["video"], asr=built["asr"], vision=built["vision"],
        health=health,
    )
