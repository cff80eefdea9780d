"""ComfyUI: text-to-image through workflow templates, progress over its WebSocket. Protocol: PROVIDERS.md §3
and the recorded exchanges it refers to."""

from __future__ import annotations

from typing import Any

from genloom.core.settings import Settings, SettingsError
from genloom.providers.comfyui.client import DEFAULT_WORKFLOW, PROVIDER, ComfyUIImage
from genloom.providers.comfyui.templates import Workflow, WorkflowError, load_workflows, parse_workflow
from genloom.providers.resilience import GuardRegistry

DEFAULTS = {"image": DEFAULT_WORKFLOW}

__all__ = ["DEFAULTS", "PROVIDER", "ComfyUIImage", "Workflow", "WorkflowError", "build", "load_workflows",
           "parse_workflow", "required_settings"]


def required_settings(settings: Settings, capability: str) -> list[str]:
    """The settings ComfyUI lacks (empty when it can start). It needs no key, only its URL."""
    return [] if settings.comfyui_url else ["COMFYUI_URL"]


def build(settings: Settings, capability: str, guards: GuardRegistry) -> Any:
    """The ComfyUI image provider; templates are loaded (and checked) now, so a broken file stops start-up."""
    if capability != "image":
        raise ValueError(f"comfyui has no {capability} capability")
    try:
        workflows = load_workflows(settings.comfyui_workflows_dir)
    except WorkflowError as exc:
        raise SettingsError([f"GENLOOM_COMFYUI_WORKFLOWS_DIR: {exc}"]) from None
    default = settings.image_model or DEFAULT_WORKFLOW
    if default not in workflows:
        raise SettingsError([f"GENLOOM_IMAGE_MODEL: no ComfyUI workflow named {default!r} "
                             f"(available: {', '.join(sorted(workflows))})"])
    return ComfyUIImage(settings, guard=guards.get(PROVIDER), workflows=workflows, default_workflow=default)
