"""Image probing and thumbnails with Pillow, behind a decompression-bomb limit.

Pillow only warns between ``MAX_IMAGE_PIXELS`` and twice that; we treat the warning as an error too, so an image
is refused as soon as it passes the limit. Decoding is CPU work: the async wrappers run it in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from genloom.media.errors import InvalidMedia, MediaTooLarge
from genloom.storage.mime import SNIFF_BYTES, sniff_mime

#: the most pixels an image may have (64 MP: 8192 x 8192)
MAX_PIXELS = 64 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

THUMB_MAX_SIDE = 320  # px, longest side of a thumbnail
THUMB_JPEG_QUALITY = 85

IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff"})


@dataclass(frozen=True, slots=True)
class MediaInfo:
    mime: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    mime: str
    width: int
    height: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its magic number (None when unknown)."""
    return sniff_mime(data[:SNIFF_BYTES])


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaTooLarge(f"the image has more than {MAX_PIXELS} pixels", field="file") from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise InvalidMedia("the file is not a readable image", field="file") from None


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """Size as displayed: EXIF orientations 5–8 swap width and height."""
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def probe(data: bytes) -> MediaInfo:
    """Type, size, sha256 and (for images) displayed width/height. Raises InvalidMedia for a broken image."""
    mime = sniff(data)
    digest = sha256_hex(data)
    if mime not in IMAGE_MIMES:
        return MediaInfo(mime=mime or "application/octet-stream", size=len(data), sha256=digest)
    image = _open(data)
    with image:
        try:
            image.verify()  # checks the file's structure without decoding every pixel
        except Exception:  # noqa: BLE001 - Pillow raises many types for corrupt files
            raise InvalidMedia("the image file is corrupt", field="file") from None
    image = _open(data)
    with image:
        width, height = _oriented_size(image)
    return MediaInfo(mime=mime, size=len(data), sha256=digest, width=width, height=height)


def thumbnail(data: bytes, *, max_side: int = THUMB_MAX_SIDE) -> Thumbnail:
    """A thumbnail whose longest side is ``max_side`` (never upscaled), upright per EXIF, alpha kept as PNG."""
    image = _open(data)
    with image:
        try:
            image.seek(0)  # first frame of an animation
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        except (OSError, ValueError) as exc:
            raise InvalidMedia(f"the image cannot be decoded: {exc}", field="file") from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    out = io.BytesIO()
    if has_alpha:
        upright.convert("RGBA").save(out, format="PNG", optimize=True)
        mime = "image/png"
    else:
        upright.convert("RGB").save(out, format="JPEG", quality=THUMB_JPEG_QUALITY, optimize=True)
        mime = "image/jpeg"
    return Thumbnail(data=out.getvalue(), mime=mime, width=upright.width, height=upright.height)


async def probe_async(data: bytes) -> MediaInfo:
    return await asyncio.to_thread(probe, data)


async def thumbnail_async(data: bytes, *, max_side: int = THUMB_MAX_SIDE) -> Thumbnail:
    return await asyncio.to_thread(thumbnail, data, max_side=max_side)
