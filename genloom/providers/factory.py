"""Build the provider chosen for each capability (``GENLOOM_TEXT_PROVIDER`` …) once per process.

``BUILDERS`` maps capability → provider name → a function of (settings, guards). A capability set to a provider
with no builder is refused at start-up, never at the first job. Every capability has a ``local`` (offline)
implementation. Remote provider packages are imported plainly: they are part of every build.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from genloom.core.settings import Settings, SettingsError
from genloom.providers import ark, comfyui, dashscope, make, openai
from genloom.providers.base import Providers
from genloom.providers.local.asr import LocalAsrProvider
from genloom.providers.local.image import LocalImageProvider
from genloom.providers.local.text import LocalTextProvider
from genloom.providers.local.video import LocalVideoProvider
from genloom.providers.local.vision import LocalVisionProvider
from genloom.providers.resilience import GuardRegistry

Builder = Callable[[Settings, GuardRegistry], Any]

BUILDERS: dict[str, dict[str, Builder]] = {
    "text": {"local": lambda _s, _g: LocalTextProvider()},
    "image": {"local": lambda _s, _g: LocalImageProvider()},
    "video": {"local": lambda _s, _g: LocalVideoProvider()},
    "asr": {"local": lambda _s, _g: LocalAsrProvider()},
    "vision": {"local": lambda _s, _g: LocalVisionProvider()},
}

#: capabilities a pipeline may find absent (None) when no builder exists for the chosen "local" provider
OPTIONAL = frozenset({"video", "asr", "vision"})


def remote_builder(package: ModuleType, provider: str, capability: str) -> Builder:
    """A builder for a remote provider package exposing ``required_settings(settings, capability) -> [names]``
    and ``build(settings, capability, guards)``: start-up is refused naming every missing setting."""

    def build(settings: Settings, guards: GuardRegistry) -> Any:
        missing = package.required_settings(settings, capability)
        if missing:
            raise SettingsError([f"{name} is required when GENLOOM_{capability.upper()}_PROVIDER={provider}"
                                 for name in missing])
        return package.build(settings, capability, guards)

    return build


for _capability in ("text", "image", "asr", "vision"):
    BUILDERS[_capability]["dashscope"] = remote_builder(dashscope, "dashscope", _capability)
BUILDERS["image"]["make"] = remote_builder(make, "make", "image")
for _capability in ("text", "vision", "video"):
    BUILDERS[_capability]["ark"] = remote_builder(ark, "ark", _capability)
for _capability in ("text", "vision", "image", "asr"):
    BUILDERS[_capability]["openai"] = remote_builder(openai, "openai", _capability)
BUILDERS["image"]["comfyui"] = remote_builder(comfyui, "comfyui", "image")


def _chosen(settings: Settings, capability: str) -> str:
    return str(getattr(settings, f"{capability}_provider"))


def build_one(settings: Settings, capability: str, guards: GuardRegistry) -> Any:
    """The provider for one capability, or None for an optional capability without a local implementation."""
    name = _chosen(settings, capability)
    builder = BUILDERS[capability].get(name)
    if builder is None:
        if capability in OPTIONAL and name == "local":
            return None
        raise SettingsError([f"GENLOOM_{capability.upper()}_PROVIDER: provider {name!r} is not available for {capability}"])
    return builder(settings, guards)


def build_providers(settings: Settings, guards: GuardRegistry | None = None) -> Providers:
    """Every capability's provider, built from settings (raises SettingsError for an unusable choice); remote
    providers share ``guards`` (one circuit breaker and limit per provider; a fresh set when not given)."""
    guards = guards if guards is not None else GuardRegistry(settings)
    built = {capability: build_one(settings, capability, guards) for capability in BUILDERS}
    health = {f"{cap}:{getattr(p, 'name', '?')}": p for cap, p in built.items() if p is not None and hasattr(p, "status")}
    health.update(guards.items())  # one guard (circuit breaker, limit) per remote provider
    return Providers(
        text=built["text"], image=built["image"], video=built["video"], asr=built["asr"], vision=built["vision"],
        health=health,
    )
