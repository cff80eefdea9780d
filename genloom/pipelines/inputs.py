"""Reading a job's input asset: the row is looked up among the job owner's assets in a short read session that
is closed before the bytes are fetched from the blob store (and long before any provider is called)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select

from genloom.core.errors import Unavailable
from genloom.jobs.context import JobContext
from genloom.media.errors import AssetNotFound, InvalidMedia
from genloom.media.models import Asset
from genloom.storage.errors import BlobNotFound

MAX_INPUT_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class InputAsset:
    id: str
    key: str
    mime: str
    size: int
    data: bytes


async def load_owned_asset(
    ctx: JobContext,
    asset_id: str,
    *,
    field: str,
    mime_prefixes: tuple[str, ...],
    what: str,
    max_bytes: int = MAX_INPUT_BYTES,
) -> InputAsset:
    """The job owner's committed asset ``asset_id`` and its bytes.

    Another owner's asset and an unknown id look the same (AssetNotFound, 404); an asset of the wrong type is
    InvalidMedia. Neither is retryable: running the job again cannot change the answer."""
    async with ctx.runtime.db.read_session() as session:
        row = (await session.execute(
            select(Asset).where(Asset.id == asset_id, Asset.owner_id == ctx.owner_id, Asset.state == "committed")
        )).scalar_one_or_none()
        if row is not None:
            key, mime, size = row.key, row.mime, row.size
    if row is None:
        raise AssetNotFound(f"asset {asset_id} not found", field=field)
    if not mime.startswith(mime_prefixes):
        raise InvalidMedia(f"asset {asset_id} is {mime}, not {what}", field=field)
    if size > max_bytes:
        raise InvalidMedia(f"asset {asset_id} is larger than {max_bytes // (1024 * 1024)} MB", field=field)
    try:
        data = await ctx.runtime.blobs.get(key)
    except BlobNotFound:
        raise AssetNotFound(f"the file of asset {asset_id} is gone", field=field) from None
    return InputAsset(id=asset_id, key=key, mime=mime, size=size, data=data)


P = TypeVar("P")


def require_provider(provider: P | None, *, code: str, what: str, setting: str) -> P:
    """The configured provider; without one the job fails at once (not retried) with ``code``."""
    if provider is None:
        raise Unavailable(f"no {what} provider is configured ({setting})", code=code, retryable=False)
    return provider
