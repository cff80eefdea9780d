"""Build the configured blob store from settings."""

from __future__ import annotations

from genloom.core.settings import Settings
from genloom.storage.base import BlobStore
from genloom.storage.signing import UrlSigner


def create_blob_store(settings: Settings) -> BlobStore:
    """Local disk under ``settings.media_root`` (default) or an S3 bucket (``GENLOOM_STORAGE=s3``)."""
    if settings.storage == "s3":
        from genloom.storage.s3 import S3BlobStore

        return S3BlobStore(settings)
    from genloom.storage.local import LocalBlobStore

    signer = UrlSigner(settings.secret_key, base_url=settings.public_base_url)
    return LocalBlobStore(settings.media_root, signer, expires_s=settings.presign_expires_s)
