"""Imports every feature's models so that Base.metadata is complete (for Alembic and test set-up).

Core must not import features at module level; this function does it lazily, by module name, and skips
features that are not installed in this build.
"""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "genloom.jobs.models",
    "genloom.media.models",
    "genloom.identity.models",
    "genloom.ratings.models",
    "genloom.nodes.models",
    "genloom.cinemind.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # a missing feature package (or module) is fine; a missing dependency inside one is not
            if exc.name is None or not name.startswith(exc.name):
                raise
