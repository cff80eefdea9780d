"""Job handlers, one module per kind; ``register_all`` makes them known to a registry."""

from __future__ import annotations

import importlib

from genloom.jobs.registry import KindRegistry

#: modules exposing ``register(kinds: KindRegistry) -> None``
PIPELINE_MODULES = (
    "genloom.pipelines.builtin",
    "genloom.pipelines.image_generate",
)


def register_all(kinds: KindRegistry) -> None:
    for name in PIPELINE_MODULES:
        importlib.import_module(name).register(kinds)
