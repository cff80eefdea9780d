"""Media errors.

    InvalidInput
    ├── InvalidMedia      400  invalid_media: bytes that are not a readable file of the expected type
    └── MediaTooLarge     400  image_too_large: more pixels than the decompression-bomb limit
    NotFound
    └── AssetNotFound     404  asset_not_found (also for another owner's asset)
"""

from __future__ import annotations

from genloom.core.errors import InvalidInput, NotFound


class InvalidMedia(InvalidInput):
    """The file is not a readable media file."""

    default_code = "invalid_media"


class MediaTooLarge(InvalidInput):
    """The image has too many pixels."""

    default_code = "image_too_large"


class AssetNotFound(NotFound):
    """Asset not found."""

    default_code = "asset_not_found"
