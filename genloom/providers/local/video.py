"""Offline video provider: an H.264 MP4 pan-and-zoom ("Ken Burns") over a still picture, encoded with PyAV.

The picture is the request's image, or one the local image provider renders from the prompt. The clip is
deliberately modest (short side at most 480 px, 12 fps) so it renders in a second or two on a laptop. The same
request gives the same bytes: the camera path comes from sha256(picture, prompt, seed), the encoder runs with a
single thread without macroblock-tree rate control, the muxer in bit-exact mode (no version strings or
timestamps), and frame sizes keep every row free of uninitialised padding. Frames are encoded in
batches in a thread; the progress callback is awaited after each batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from dataclasses import dataclass
from fractions import Fraction

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from genloom.providers.base import (
    GeneratedMedia,
    ImageRequest,
    ProgressFn,
    ProviderError,
    VideoRequest,
    VideoResult,
)
from genloom.providers.local.image import LocalImageProvider

MODEL = "kenburns-v1"
FPS = 12
MAX_SHORT_SIDE = 480  # px
RESOLUTION_SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}
RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9)}
MIN_ASPECT, MAX_ASPECT = 1 / 3, 3.0  # an "adaptive" clip follows the picture, within these bounds
MIN_SECONDS, MAX_SECONDS = 1.0, 10.0
FRAMES_PER_BATCH = 6
ZOOM = 1.3  # the end frame shows 1/ZOOM of the start frame's width
ENCODER_THREADS = "1"  # reproducible bytes need one encoder thread; fast enough at 480p


@dataclass(frozen=True, slots=True)
class _Plan:
    width: int
    height: int
    frames: int
    start: tuple[float, float, float, float]  # crop boxes in source pixels (left, top, right, bottom)
    end: tuple[float, float, float, float]


def _aligned(value: float) -> int:
    """Round to a multiple of 32. x264 reads a little past the visible width of each row; unless the chroma rows
    (half the width) are a multiple of 16 bytes, that is the frame's uninitialised row padding, and the output
    would then change from run to run."""
    return max(32, int(round(value / 32)) * 32)


def output_size(request: VideoRequest, source_aspect: float | None) -> tuple[int, int]:
    """Width and height of the clip: the requested ratio (or the picture's shape for ``adaptive``), short side
    capped at 480 px, both multiples of 32."""
    if request.ratio in RATIOS:
        rw, rh = RATIOS[request.ratio]
        aspect = rw / rh
    else:
        aspect = min(MAX_ASPECT, max(MIN_ASPECT, source_aspect or 16 / 9))
    short = min(MAX_SHORT_SIDE, RESOLUTION_SHORT_SIDE.get(request.resolution, MAX_SHORT_SIDE))
    if aspect >= 1:
        return _aligned(short * aspect), _aligned(short)
    return _aligned(short), _aligned(short / aspect)


def _fit_box(src_w: int, src_h: int, aspect: float) -> tuple[float, float, float, float]:
    """The largest centred box of ``aspect`` inside the source."""
    if src_w / src_h > aspect:
        w = src_h * aspect
        left = (src_w - w) / 2
        return left, 0.0, left + w, float(src_h)
    h = src_w / aspect
    top = (src_h - h) / 2
    return 0.0, top, float(src_w), top + h


def _plan(source: Image.Image, width: int, height: int, frames: int, rng: random.Random) -> _Plan:
    full = _fit_box(source.width, source.height, width / height)
    fw, fh = full[2] - full[0], full[3] - full[1]
    zw, zh = fw / ZOOM, fh / ZOOM
    # the zoomed box sits somewhere inside the full one; zoom in or out, chosen by the RNG
    left = full[0] + rng.uniform(0, fw - zw)
    top = full[1] + rng.uniform(0, fh - zh)
    zoomed = (left, top, left + zw, top + zh)
    start, end = (full, zoomed) if rng.random() < 0.6 else (zoomed, full)
    return _Plan(width, height, frames, start, end)


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)  # smoothstep: the camera starts and stops gently


def _frame(source: Image.Image, plan: _Plan, index: int) -> Image.Image:
    t = _ease(index / max(1, plan.frames - 1))
    box = tuple(a + (b - a) * t for a, b in zip(plan.start, plan.end, strict=True))
    return source.resize((plan.width, plan.height), Image.Resampling.BILINEAR, box=box)  # type: ignore[arg-type]


def _load(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(f"the input image cannot be read: {exc}", provider="local", code="invalid_image") from None
    return image


def _prepare_source(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale the picture so its fitted box is ~ZOOM× the clip (enough detail at full zoom, no more work)."""
    box = _fit_box(image.width, image.height, width / height)
    scale = (width * ZOOM) / (box[2] - box[0])
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


class _Encoder:
    """An MP4 being written to memory (used from one thread at a time)."""

    def __init__(self, width: int, height: int) -> None:
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, "w", format="mp4", options={"fflags": "+bitexact"})
        stream = self.container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        # one thread and no macroblock-tree rate control: with either, x264's output here differs between runs
        stream.options = {"preset": "veryfast", "crf": "23", "threads": ENCODER_THREADS,
                          "x264-params": "log=-1:threads=1:lookahead-threads=1:mbtree=0"}
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        stream.codec_context.thread_count = int(ENCODER_THREADS)  # PyAV's own default (auto) would win otherwise
        self.stream = stream

    def encode(self, images: list[Image.Image], first_index: int) -> None:
        for offset, image in enumerate(images):
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # PyAV ships no hints here
            frame.pts = first_index + offset
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def finish(self) -> bytes:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001, S110 - closing a half-written container may fail; nothing to keep
            pass


def _seed_for(request: VideoRequest) -> int:
    if request.seed is not None:
        return request.seed
    return int.from_bytes(hashlib.sha256(request.prompt.encode()).digest()[:4], "big")


class LocalVideoProvider:
    name = "local"
    model = MODEL

    def __init__(self, image_provider: LocalImageProvider | None = None) -> None:
        self.images = image_provider or LocalImageProvider()

    async def generate(self, request: VideoRequest, *, progress: ProgressFn | None = None) -> VideoResult:
        if not MIN_SECONDS <= request.duration_s <= MAX_SECONDS:
            raise ProviderError(f"duration must be {MIN_SECONDS:.0f}–{MAX_SECONDS:.0f} s", provider=self.name,
                                code="invalid_duration")
        seed = _seed_for(request)
        if request.image is not None:
            source = await asyncio.to_thread(_load, request.image)
            width, height = output_size(request, source.width / source.height)
        else:
            if not request.prompt.strip():
                raise ProviderError("the prompt is empty", provider=self.name, code="empty_prompt")
            width, height = output_size(request, None)
            # a picture a little larger than the clip, so the zoomed-in end still has detail
            rendered = await self.images.generate(ImageRequest(prompt=request.prompt, width=_aligned(width * ZOOM),
                                                               height=_aligned(height * ZOOM), seed=seed))
            source = await asyncio.to_thread(_load, rendered.images[0].data)
        if progress is not None:
            await progress(0.05, "rendering")
        source = await asyncio.to_thread(_prepare_source, source, width, height)
        digest = hashlib.sha256(source.tobytes() + f"\x00{seed}\x00{request.prompt}".encode()).digest()
        frames = max(2, round(request.duration_s * FPS))
        plan = _plan(source, width, height, frames, random.Random(int.from_bytes(digest[:16], "big")))

        encoder = await asyncio.to_thread(_Encoder, width, height)
        try:
            for first in range(0, frames, FRAMES_PER_BATCH):
                indices = range(first, min(frames, first + FRAMES_PER_BATCH))

                def batch(indices: range = indices) -> None:
                    encoder.encode([_frame(source, plan, i) for i in indices], indices.start)

                await asyncio.to_thread(batch)
                if progress is not None:
                    await progress(0.05 + 0.9 * indices.stop / frames, "rendering")
            data = await asyncio.to_thread(encoder.finish)
        except BaseException:
            await asyncio.to_thread(encoder.abort)
            raise
        if progress is not None:
            await progress(1.0, "encoding")
        media = GeneratedMedia(data=data, mime="video/mp4", width=width, height=height,
                               duration_ms=round(frames * 1000 / FPS), seed=seed)
        return VideoResult(video=media, provider=self.name, model=MODEL)
