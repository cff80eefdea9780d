"""Offline image provider: a deterministic picture from prompt + seed, drawn with Pillow.

The same prompt, seed and size give the same PNG bytes: every random choice comes from one RNG seeded with
sha256(prompt, seed, size), and the PNG is written without timestamps. Drawing happens in steps run in a
thread; the progress callback is awaited after each one.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from genloom.providers.base import GeneratedMedia, ImageRequest, ImageResult, ProgressFn, ProviderError

MODEL = "procedural-v1"
SHAPE_BATCHES = 4  # rendering steps that add shapes
SHAPES_PER_BATCH = 6
MIN_SIDE, MAX_SIDE = 16, 4096  # px


@dataclass
class _Canvas:
    image: Image.Image
    rng: random.Random
    prompt: str


def _rng(prompt: str, seed: int, width: int, height: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{width}x{height}\x00{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _colour(rng: random.Random, alpha: int | None = None) -> tuple[int, ...]:
    rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return rgb if alpha is None else (*rgb, alpha)


def _background(canvas: _Canvas) -> None:
    """A diagonal two-colour gradient."""
    width, height = canvas.image.size
    top, bottom = _colour(canvas.rng), _colour(canvas.rng)
    mask = Image.linear_gradient("L").rotate(canvas.rng.choice((0, 45, 90, 135)), expand=False)
    mask = mask.resize((width, height), Image.Resampling.BILINEAR)
    canvas.image.paste(Image.composite(Image.new("RGB", (width, height), bottom[:3]),
                                       Image.new("RGB", (width, height), top[:3]), mask))


def _shapes(canvas: _Canvas) -> None:
    """Translucent ellipses, rectangles and polygons."""
    width, height = canvas.image.size
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    rng = canvas.rng
    for _ in range(SHAPES_PER_BATCH):
        x, y = rng.randrange(width), rng.randrange(height)
        rx, ry = max(2, rng.randrange(max(3, width // 3))), max(2, rng.randrange(max(3, height // 3)))
        fill = _colour(rng, rng.randrange(60, 200))
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)
        elif kind == 1:
            draw.rectangle((min(x, x + rx), min(y, y + ry), max(x, x + rx), max(y, y + ry)), fill=fill)
        else:
            points = [(rng.randrange(width), rng.randrange(height)) for _ in range(rng.randrange(3, 7))]
            draw.polygon(points, fill=fill)
    canvas.image.paste(Image.alpha_composite(canvas.image.convert("RGBA"), layer).convert("RGB"))


def _soften(canvas: _Canvas) -> None:
    canvas.image.paste(canvas.image.filter(ImageFilter.GaussianBlur(radius=max(1, min(canvas.image.size) // 256))))


CAPTION_LINES = 3  # at most; a longer prompt ends its last line with "…"


def caption_lines(prompt: str, fits: Callable[[str], bool], max_lines: int = CAPTION_LINES) -> list[str]:
    """The prompt broken into lines that each ``fits`` the picture's width: at spaces, or between any two
    characters of text without spaces (Chinese); a word wider than a line is broken too."""
    tokens = re.findall(r"\S+\s*", " ".join(prompt.split())) if " " in prompt.strip() else list(prompt.strip())
    lines: list[str] = []
    line = ""
    for token in tokens:
        pieces = [token] if fits(token.rstrip()) else list(token)
        for piece in pieces:
            if not line or fits((line + piece).rstrip()):
                line += piece
            else:
                lines.append(line.rstrip())
                line = piece.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and not fits(last + "…"):
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
    return lines


def _caption(canvas: _Canvas) -> None:
    """The prompt, wrapped to the picture's width, so a picture can be told apart from another at a glance."""
    width, height = canvas.image.size
    if not canvas.prompt.strip():
        return
    size = max(10, min(width, height) // 18)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(canvas.image)
    room = width - 8
    lines = caption_lines(canvas.prompt, lambda text: draw.textlength(text, font=font) <= room)
    step = int(size * 1.25)
    y = height - size - step * len(lines)
    for text in lines:
        x = max(4, (width - int(draw.textlength(text, font=font))) // 2)
        draw.text((x + 2, y + 2), text, font=font, fill=(0, 0, 0))
        draw.text((x, y), text, font=font, fill=(255, 255, 255))
        y += step


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)  # no pnginfo, no timestamps: stable bytes
    return out.getvalue()


class LocalImageProvider:
    name = "local"

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult:
        if not request.prompt.strip():
            raise ProviderError("the prompt is empty", provider=self.name, code="empty_prompt")
        for side in (request.width, request.height):
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise ProviderError(f"size must be {MIN_SIDE}–{MAX_SIDE} px", provider=self.name, code="invalid_size")
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        count = max(1, request.count)
        steps: list[Callable[[_Canvas], None]] = [_background, *[_shapes] * SHAPE_BATCHES, _soften, _caption]
        total = count * (len(steps) + 1)
        done = 0
        images: list[GeneratedMedia] = []
        for index in range(count):
            image_seed = (seed + index) % 2**32
            canvas = _Canvas(Image.new("RGB", (request.width, request.height)),
                             _rng(request.prompt, image_seed, request.width, request.height), request.prompt)
            for step in steps:
                await asyncio.to_thread(step, canvas)
                done += 1
                if progress is not None:
                    await progress(done / total, "rendering")
            data = await asyncio.to_thread(_encode, canvas.image)
            done += 1
            if progress is not None:
                await progress(done / total, "encoding")
            images.append(GeneratedMedia(data=data, mime="image/png", width=request.width, height=request.height,
                                         seed=image_seed))
        return ImageResult(images=images, provider=self.name, model=MODEL)
