"""The long-lived parts of one process, built from settings: database, wake-ups, media store, providers,
job kinds and (in API processes) the event hub. Both the web app and ``genloom worker`` assemble one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genloom.core.db import Database
from genloom.core.settings import Settings
from genloom.jobs.registry import KindRegistry
from genloom.jobs.signals import Signals
from genloom.providers.base import Providers
from genloom.storage.base import BlobStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    signals: Signals
    blobs: BlobStore
    providers: Providers
    kinds: KindRegistry
    #: anything a feature needs to keep for the process (caches, hubs); keyed by feature name
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.signals.close()
        await self.providers.aclose()
        await self.blobs.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Assemble a runtime; nothing touches the network until ``start_runtime``."""
    from genloom.pipelines import register_all
    from genloom.providers.factory import build_providers
    from genloom.storage.factory import create_blob_store

    db = Database(settings)
    kinds = KindRegistry()
    register_all(kinds)
    return Runtime(
        settings=settings,
        db=db,
        signals=Signals(settings, db),
        blobs=create_blob_store(settings),
        providers=build_providers(settings),
        kinds=kinds,
    )


async def start_runtime(runtime: Runtime, *, migrate: bool | None = None) -> None:
    """Migrate an embedded SQLite database when allowed, then start the wake-up listeners."""
    from genloom.core.migrate import upgrade

    should_migrate = runtime.settings.db_auto_migrate and runtime.db.is_sqlite if migrate is None else migrate
    if should_migrate:
        await upgrade(runtime.db.engine)
    await runtime.signals.start()
