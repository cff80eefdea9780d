"""Named generation workflows (Studio Core's ``workflow`` field): size and step defaults per template.

The ComfyUI provider turns a name into a real graph; every other image provider uses the defaults here.
Extra names come from template files in ``GENLOOM_COMFYUI_WORKFLOWS_DIR`` (``<name>.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genloom.core.settings import Settings

DEFAULT_WORKFLOW = "sdxl"

PRESETS: dict[str, dict[str, Any]] = {
    "sdxl": {"width": 1024, "height": 1024, "steps": 25},
    "sd15": {"width": 512, "height": 512, "steps": 20},
}


def known_workflows(settings: Settings) -> dict[str, dict[str, Any]]:
    """Built-in presets plus user template files (which take the SDXL size unless they say otherwise)."""
    found = dict(PRESETS)
    directory = getattr(settings, "comfyui_workflows_dir", None)
    if directory:
        for path in sorted(Path(directory).glob("*.json")):
            found.setdefault(path.stem, dict(PRESETS[DEFAULT_WORKFLOW]))
    return found
