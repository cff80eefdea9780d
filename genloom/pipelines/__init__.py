"""Job handlers, one module per kind; ``register_all`` makes them known to a registry."""

from __future__ import annotations

import importlib

from genloom.jobs.registry import KindRegistry

#: modules exposing ``register(kinds: KindRegistry) -> None``
PIPELINE_MODULES = (
    "genloom.pipelines.builtin",
    "genloom.pipelines.image_generate",
    "genloom.pipelines.video_generate",
    "genloom.pipelines.audio_transcribe",
    "genloom.pipelines.image_analyze",
    "genloom.cinemind.pipeline",
)


def register_all(kinds: KindRegistry) -> None:
    for name in PIPELINE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # an optional pipeline that is not part of this build; a missing dependency inside one still fails
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(kinds)
