"""Storage errors (subclasses of the core hierarchy).

    InvalidInput
    └── InvalidKey            400  invalid_key: a key that is malformed or would leave the store
    NotFound
    └── BlobNotFound          404  media_not_found
    Forbidden
    └── InvalidSignature      403  invalid_signature (missing, tampered or expired signed URL)
    PayloadTooLarge
    └── BlobTooLarge          413  blob_too_large
    Unavailable
    └── StorageUnavailable    503  storage_unavailable (disk or S3 failure; retryable)
"""

from __future__ import annotations

from genloom.core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unavailable


class InvalidKey(InvalidInput):
    """The storage key is not valid."""

    default_code = "invalid_key"


class BlobNotFound(NotFound):
    """No such media file."""

    default_code = "media_not_found"


class InvalidSignature(Forbidden):
    """The media URL's signature is missing, invalid or expired."""

    default_code = "invalid_signature"


class BlobTooLarge(PayloadTooLarge):
    """The file is larger than allowed."""

    default_code = "blob_too_large"


class StorageUnavailable(Unavailable):
    """The media store is unavailable."""

    default_code = "storage_unavailable"
