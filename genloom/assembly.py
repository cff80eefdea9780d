"""The composition root: builds the process :class:`~genloom.runtime.Runtime` from settings, with plain
imports, and says which job kinds and data models this build has. ``genloom.app``, ``genloom.cli`` and the
tests call it; nothing else assembles.

Adding a job kind: write ``register(kinds)`` next to its handler and call it in :func:`register_kinds`.
Adding a feature's tables: import its models module in :func:`import_models` (Alembic and the test set-up read
``Base.metadata`` after calling it).
"""

from __future__ import annotations

import logging

from genloom.articles import models as articles_models
from genloom.artworks import generation_flow as artworks_generation
from genloom.artworks import models as artworks_models
from genloom.assistant import models as assistant_models
from genloom.channel import models as channel_models
from genloom.cinemind import models as cinemind_models
from genloom.cinemind import pipeline as cinemind_pipeline
from genloom.collab import models as collab_models
from genloom.core.db import Database
from genloom.core.metrics import MetricsState
from genloom.core.migrate import ensure_schema
from genloom.core.outage import is_database_unavailable
from genloom.core.settings import Settings
from genloom.events.hub import Hub
from genloom.events.readmodel import ReadModel
from genloom.growth import analysis as growth_analysis
from genloom.growth import models as growth_models
from genloom.identity import models as identity_models
from genloom.identity import passwords
from genloom.jobs import models as jobs_models
from genloom.jobs.registry import KindRegistry
from genloom.jobs.signals import Signals
from genloom.media import models as media_models
from genloom.nodes import models as nodes_models
from genloom.pipelines import audio_transcribe, builtin, image_analyze, image_generate, video_generate
from genloom.providers.factory import build_providers
from genloom.providers.probes import Prober, probe_targets
from genloom.providers.resilience import GuardRegistry
from genloom.ratelimits import models as ratelimits_models
from genloom.ratings import models as ratings_models
from genloom.runtime import Runtime
from genloom.search import models as search_models
from genloom.storage.factory import create_blob_store
from genloom.storage.local import LocalBlobStore
from genloom.storage.signing import UrlSigner

log = logging.getLogger("genloom.assembly")

#: every module that defines tables (imported for their side effect on ``Base.metadata``)
MODEL_MODULES = (jobs_models, media_models, identity_models, ratings_models, nodes_models, cinemind_models,
                 ratelimits_models, artworks_models, growth_models, assistant_models, collab_models, articles_models,
                 search_models, channel_models)


def import_models() -> None:
    """Every table of this build is on ``Base.metadata`` once this module is imported; the call documents it."""
    assert MODEL_MODULES


def register_kinds(kinds: KindRegistry) -> None:
    """Every job kind this build runs."""
    builtin.register(kinds)
    image_generate.register(kinds)
    video_generate.register(kinds)
    audio_transcribe.register(kinds)
    image_analyze.register(kinds)
    cinemind_pipeline.register(kinds)
    artworks_generation.register(kinds)
    growth_analysis.register(kinds)


def build_runtime(settings: Settings) -> Runtime:
    """Assemble a runtime; nothing touches the network until :func:`start_runtime`."""
    passwords.configure(settings)
    db = Database(settings)
    signals = Signals(settings, db)
    kinds = KindRegistry()
    register_kinds(kinds)
    guards = GuardRegistry(settings)
    providers = build_providers(settings, guards)
    targets = probe_targets(settings) if settings.provider_probes else []
    probes = Prober(settings, targets, {t.provider: guards.get(t.provider) for t in targets},
                    interval=settings.provider_probe_interval_seconds, timeout=settings.provider_probe_timeout_seconds)
    blobs = create_blob_store(settings)
    signer = blobs.signer if isinstance(blobs, LocalBlobStore) else UrlSigner(
        settings.secret_key, base_url=settings.public_base_url)
    return Runtime(
        settings=settings,
        db=db,
        signals=signals,
        blobs=blobs,
        providers=providers,
        guards=guards,
        kinds=kinds,
        signer=signer,
        hub=Hub(settings, db, signals),
        reads=ReadModel(db, signals, settings.read_cache_size),
        metrics=MetricsState(),
        probes=probes,
    )


async def start_runtime(runtime: Runtime, *, migrate: bool | None = None) -> None:
    """Bring the schema to head, then start the wake-up listeners.

    On every database: ``GENLOOM_DB_AUTO_MIGRATE`` (default on) upgrades under an advisory lock, so replicas
    starting together migrate once; off, a schema behind the code raises
    :class:`~genloom.core.migrate.SchemaNotAtHead` (the one line that says to run ``genloom migrate``).
    ``migrate=True`` always upgrades; ``migrate=False`` trusts the caller (tests, commands that just migrated).
    """
    if migrate is not False:
        try:
            await ensure_schema(runtime.db.engine, auto_migrate=runtime.settings.db_auto_migrate or bool(migrate))
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            # Start anyway, as with any outage: requests answer 503 and /health reports the schema as
            # "unknown" (then "behind" if it is) until the database answers; a restart then migrates it.
            log.warning("startup.schema_unchecked database unreachable (%s): the schema was not checked",
                        type(exc).__name__)
    await runtime.signals.start()


async def start_hub(runtime: Runtime) -> None:
    """Start tailing the event log (API processes): SSE/WebSocket streams and the read model need it."""
    runtime.reads.attach(runtime.hub)
    await runtime.hub.start()


async def stop_hub(runtime: Runtime) -> None:
    runtime.reads.detach()
    await runtime.hub.close()
