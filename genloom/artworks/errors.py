"""Errors of artworks, uploads and generation (stable codes; the HuaBan surface renders them).

    InvalidInput (400)      mime_mismatch, size_mismatch, cover_required, invalid_media (media.errors)
    NotFound (404)          artwork_not_found, upload_not_found, object_missing, job_not_found
    Conflict (409)          generation_in_progress, job_not_failed, nothing_to_capture
    PayloadTooLarge (413)   too_large
    UnsupportedMime (415)   unsupported_mime
"""

from __future__ import annotations

from genloom.core.errors import Conflict, GenloomError, InvalidInput, NotFound, PayloadTooLarge


class ArtworkNotFound(NotFound):
    """Artwork not found."""

    default_code = "artwork_not_found"


class UploadNotFound(NotFound):
    """No upload was presigned for this key."""

    default_code = "upload_not_found"


class ObjectMissing(NotFound):
    """The file was not uploaded (no object under this key)."""

    default_code = "object_missing"


class GenerationNotFound(NotFound):
    """Generation job not found."""

    default_code = "job_not_found"


class UnsupportedMime(GenloomError):
    """This media type is not accepted for this upload type."""

    status = 415
    default_code = "unsupported_mime"


class TooLarge(PayloadTooLarge):
    """The file is larger than allowed for its type."""

    default_code = "too_large"


class MimeMismatch(InvalidInput):
    """The file's bytes are not of the declared type."""

    default_code = "mime_mismatch"


class SizeMismatch(InvalidInput):
    """The stored file's size differs from the declared size."""

    default_code = "size_mismatch"


class GenerationConflict(Conflict):
    """A generation job is already running for this artwork."""

    default_code = "generation_in_progress"
