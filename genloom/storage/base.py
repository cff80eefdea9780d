"""The BlobStore protocol: where media bytes live (local disk or S3). The database keeps keys, never bytes.

Keys are validated by every implementation (:mod:`genloom.storage.keys`); a bad key raises InvalidKey, a missing
object BlobNotFound (``stat`` returns None instead).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class BlobStat:
    key: str
    size: int
    #: strong validator, quoted as an HTTP ETag (``"…"``)
    etag: str
    modified_at: datetime
    mime: str | None = None


@runtime_checkable
class BlobStore(Protocol):
    #: "local" or "s3"
    name: str

    async def put(self, key: str, data: bytes, *, mime: str | None = None) -> BlobStat:
        """Write (or replace) a whole object atomically."""
        ...

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, mime: str | None = None, max_bytes: int | None = None) -> BlobStat:
        """Write an object from chunks; raise BlobTooLarge (and keep nothing) past ``max_bytes``."""
        ...

    async def get(self, key: str) -> bytes: ...

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``start``..``end`` (inclusive; None = to the end) without loading the whole object."""
        ...

    async def stat(self, key: str) -> BlobStat | None: ...

    async def delete(self, key: str) -> None:
        """Remove an object; a missing one is not an error."""
        ...

    async def list(self, prefix: str = "", *, recursive: bool = True) -> builtins.list[BlobStat]:
        """Objects whose key starts with ``prefix``, sorted by key (``recursive=False``: one level only)."""
        ...

    async def list_prefixes(self, prefix: str = "") -> builtins.list[str]:
        """The "folders" directly under ``prefix`` (each ends with ``/``), sorted."""
        ...

    def url(self, key: str) -> str:
        """A URL a client can GET (signed when the store is private)."""
        ...

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str: ...

    def presign_put(self, key: str, *, mime: str, expires_s: int | None = None, max_bytes: int | None = None,
                    content_length: int | None = None) -> dict[str, object]:
        """``{"method": "PUT", "url", "headers", "expires_at"}`` for a direct upload by the client.

        ``content_length``: the upload must be exactly this long (S3 signs the header; the local store caps
        the body at it)."""
        ...

    async def aclose(self) -> None: ...
