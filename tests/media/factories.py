"""Small image factories for media tests."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 64, height: int = 48, colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, *, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (10, 120, 200))
    out = io.BytesIO()
    if orientation is None:
        image.save(out, format="JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, format="JPEG", exif=exif)
    return out.getvalue()
