"""What the queue, the workers and the job handlers need of the process they run in.

The process's :class:`genloom.runtime.Runtime` (built by :mod:`genloom.assembly`) has these fields and more;
the queue names only this part, so ``jobs/`` depends on nothing above it (no feature, surface or the event
hub): the composition root passes the whole runtime in, and mypy checks it fits.
"""

from __future__ import annotations

from typing import Any, Protocol

from genloom.core.db import Database
from genloom.core.settings import Settings
from genloom.jobs.registry import KindRegistry
from genloom.jobs.signals import Signals
from genloom.providers.base import Providers
from genloom.storage.base import BlobStore


class JobRows(Protocol):
    """Job rows for the hot read paths (the event hub's read model in API processes)."""

    async def get_job_row(self, job_id: str) -> dict[str, Any] | None: ...


class Runtime(Protocol):
    # read-only members: any runtime whose fields are these types (or narrower ones) fits
    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def signals(self) -> Signals: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def providers(self) -> Providers: ...
    @property
    def kinds(self) -> KindRegistry: ...
    @property
    def reads(self) -> JobRows: ...
