"""Fixtures for pipeline tests: the provider tests' fakes and runtimes (reused, not redefined), and input assets
stored the way uploads are."""

from __future__ import annotations

import io
import wave

from PIL import Image, ImageDraw

from genloom.core.principal import PUBLIC_OWNER
from genloom.media import service as media_service
from genloom.runtime import Runtime
from tests.providers.conftest import dashscope, open_runtime
from tests.providers.test_ark import KEY as ARK_KEY
from tests.providers.test_ark import ark
from tests.providers.test_openai import KEY as OPENAI_KEY
from tests.providers.test_openai import openai

__all__ = ["ARK_KEY", "OPENAI_KEY", "ark", "dashscope", "open_runtime", "openai"]


async def store_input(runtime: Runtime, data: bytes, *, owner_id: str = PUBLIC_OWNER, kind: str = "original") -> str:
    """Store ``data`` as an asset of ``owner_id`` (as an upload would) and return its id."""
    async with runtime.db.session() as session:
        asset = await media_service.store_asset(session, runtime.blobs, owner_id=owner_id, data=data, kind=kind,
                                                key=lambda asset_id, ext: f"uploads/{asset_id}.{ext}")
        return asset.id


def drawing_png(width: int = 400, height: int = 300, *, rich: bool = True) -> bytes:
    """A child's drawing: coloured shapes and strokes on white paper (or a blank page)."""
    image = Image.new("RGB", (width, height), "white")
    if rich:
        draw = ImageDraw.Draw(image)
        colours = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta"]
        step = width // 10
        for i, colour in enumerate(colours):
            top = height // 8 + (i % 3) * height // 5
            draw.ellipse((step // 2 + i * step, top, step * 2 + i * step, top + height // 3), fill=colour,
                         outline="black", width=3)
        for x in range(0, width, 13):
            draw.line((x, height - 50, x + 20, height - 10), fill="brown", width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wav_bytes(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * int(8000 * seconds))
    return out.getvalue()
