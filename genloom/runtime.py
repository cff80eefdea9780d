"""The long-lived parts of one process: what :mod:`genloom.assembly` builds from settings and every request,
worker and CLI command shares. Only the type lives here; building it is the composition root's job.

Every field is typed and built up front (nothing created lazily under a string key), so a reader sees in one
place what a process holds. The job queue names only the part it needs (:class:`genloom.jobs.runtime.Runtime`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genloom.core.db import Database
from genloom.core.metrics import MetricsState
from genloom.core.settings import Settings
from genloom.core.shutdown import Shutdown
from genloom.events.hub import Hub
from genloom.events.readmodel import ReadModel
from genloom.jobs.registry import KindRegistry
from genloom.jobs.signals import Signals
from genloom.nodes.keywords import KeywordIndex
from genloom.providers.base import Providers
from genloom.providers.probes import Prober
from genloom.providers.resilience import GuardRegistry
from genloom.storage.base import BlobStore
from genloom.storage.signing import UrlSigner


@dataclass(eq=False)
class Runtime:
    settings: Settings
    db: Database
    #: wake-ups between writers and waiters (in-process, NOTIFY, Redis, SQLite data_version)
    signals: Signals
    blobs: BlobStore
    providers: Providers
    #: one circuit breaker, concurrency limit and HTTP client pool per remote provider
    guards: GuardRegistry
    kinds: KindRegistry
    #: signs media URLs (the local store's own signer, or one for S3-backed media routes)
    signer: UrlSigner
    #: tails the event log for SSE/WebSocket clients; started only in API processes
    hub: Hub
    #: job rows for status polling, kept fresh by ``hub`` while it runs
    reads: ReadModel
    metrics: MetricsState
    #: start-up and periodic health probes of the remote providers in use (``run`` is started by the processes)
    probes: Prober
    #: per-process document frequencies for cineMind's keyword extraction
    keywords: KeywordIndex = field(default_factory=KeywordIndex)
    #: client id -> when its last_seen_at was last written (writes are throttled per process)
    clients_seen: dict[str, float] = field(default_factory=dict)
    #: the graceful shutdown of a server: components holding live connections register their hooks here
    shutdown: Shutdown = field(default_factory=Shutdown)

    async def close(self) -> None:
        await self.hub.close()
        await self.signals.close()
        await self.providers.aclose()
        await self.probes.aclose()
        await self.blobs.aclose()
        await self.db.dispose()
