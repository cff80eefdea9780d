"""The BlobStore protocol: where media bytes live (local disk or S3). The database keeps keys, never bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class BlobStat:
    key: str
    size: int
    etag: str
    modified_at: datetime
    mime: str | None = None


@runtime_checkable
class BlobStore(Protocol):
    name: str

    async def put(self, key: str, data: bytes, *, mime: str | None = None) -> BlobStat: ...

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, mime: str | None = None, max_bytes: int | None = None) -> BlobStat: ...

    async def get(self, key: str) -> bytes: ...

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...

    async def stat(self, key: str) -> BlobStat | None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str = "", *, recursive: bool = True) -> list[BlobStat]: ...

    def url(self, key: str) -> str:
        """A URL a client can GET (signed when the store is private)."""
        ...

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str: ...

    def presign_put(self, key: str, *, mime: str, expires_s: int | None = None, max_bytes: int | None = None) -> dict[str, object]: ...

    async def aclose(self) -> None: ...
