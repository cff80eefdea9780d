"""``video.generate``: prompt (+ optional first-frame picture) → an MP4 and its poster, stored as the job's assets.

Phases: ``preparing`` (the owner's input picture is read), ``generating`` (the video provider; its progress maps
to 10–85 %), ``storing`` (the MP4 is decoded once for its size, duration and first frame; then the MP4 and a
poster thumbnail go to the blob store and their rows are inserted in one short transaction). No database
transaction is open while the provider works or bytes travel; if inserting the rows fails, the bytes are
deleted again. Cancelling the job cancels the provider call, which cancels the upstream task where it can.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.media import images
from genloom.media import service as media_service
from genloom.media.errors import InvalidMedia
from genloom.pipelines.inputs import load_owned_asset, require_provider
from genloom.pipelines.video_media import probe_video_async
from genloom.providers.base import VideoRequest
from genloom.storage.keys import job_asset_key

KIND = "video.generate"
GENERATING_FROM, GENERATING_TO = 10, 85  # % of the job spent in the video provider
MAX_IMAGE_BYTES = 20 * 1024 * 1024
VIDEO_MIMES = ("video/mp4", "video/quicktime", "video/webm")


class VideoGenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(min_length=1, max_length=2000)
    #: an image asset of the job's owner to start from (the first frame)
    image_asset_id: str | None = Field(default=None, min_length=1, max_length=36)
    duration_s: int = Field(default=5, ge=1, le=10)
    #: absent with an image: follow the picture's shape
    ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4"] | None = None
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    seed: int | None = Field(default=None, ge=0, lt=2**32)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


async def run(ctx: JobContext) -> dict[str, Any]:
    params = VideoGenerateInput.model_validate(ctx.input)
    runtime = ctx.runtime
    provider = require_provider(runtime.providers.video, code="video_unavailable", what="video",
                                setting="GENLOOM_VIDEO_PROVIDER")
    await ctx.set_phase("preparing", 0)
    image: bytes | None = None
    image_mime: str | None = None
    if params.image_asset_id:
        asset = await load_owned_asset(ctx, params.image_asset_id, field="input.image_asset_id",
                                       mime_prefixes=("image/",), what="an image", max_bytes=MAX_IMAGE_BYTES)
        image, image_mime = asset.data, asset.mime
    # with a picture and no ratio, the clip takes the picture's shape ("adaptive" for Seedance)
    ratio = params.ratio or ("adaptive" if image is not None else "16:9")

    await ctx.set_phase("generating", GENERATING_FROM)

    async def on_progress(fraction: float, _phase: str | None) -> None:
        await ctx.report(GENERATING_FROM + (GENERATING_TO - GENERATING_FROM) * max(0.0, min(1.0, fraction)))

    generated = await provider.generate(
        VideoRequest(prompt=params.prompt, image=image, image_mime=image_mime, duration_s=float(params.duration_s),
                     ratio=ratio, resolution=params.resolution, seed=params.seed),
        progress=on_progress,
    )

    await ctx.set_phase("storing", GENERATING_TO)
    info = await probe_video_async(generated.video.data)
    media = await images.probe_async(generated.video.data)
    if media.mime not in VIDEO_MIMES:
        raise InvalidMedia(f"the provider returned {media.mime}, not a video", field="video")
    media = images.MediaInfo(mime=media.mime, size=media.size, sha256=media.sha256, width=info.width,
                             height=info.height)
    duration_ms = info.duration_ms or generated.video.duration_ms
    poster = await images.thumbnail_async(info.poster_png)
    poster_info = images.MediaInfo(mime=poster.mime, size=len(poster.data), sha256=images.sha256_hex(poster.data),
                                   width=poster.width, height=poster.height)
    await ctx.report(GENERATING_TO + 3)

    def key(asset_id: str, ext: str) -> str:
        return job_asset_key(ctx.job_id, asset_id, ext)

    written: list[media_service.PendingAsset] = []
    try:
        video = await media_service.write_blob(runtime.blobs, owner_id=ctx.owner_id, data=generated.video.data,
                                               kind="video", key=key, job_id=ctx.job_id, info=media)
        written.append(video)
        thumb = await media_service.write_blob(runtime.blobs, owner_id=ctx.owner_id, data=poster.data, kind="thumb",
                                               key=key, job_id=ctx.job_id, info=poster_info, derived_from=video.id)
        written.append(thumb)
        await ctx.report(GENERATING_TO + 10)
        async with runtime.db.session() as session:
            # rows built here rather than by add_assets: the video's duration has no place in PendingAsset
            video_row = video.to_row()
            video_row.duration_ms = duration_ms
            session.add(video_row)
            await session.flush()  # the poster refers to the video
            session.add(thumb.to_row())
            await session.flush()
    except BaseException:
        await media_service.discard(runtime.blobs, written)
        raise
    await ctx.report(99)
    return {
        "video": {
            "asset_id": video.id,
            "url": runtime.blobs.url(video.key),
            "thumbnail_url": runtime.blobs.url(thumb.key),
            "mime": media.mime,
            "size": media.size,
            "sha256": media.sha256,
            "duration_ms": duration_ms,
            "width": info.width,
            "height": info.height,
        },
        "provider": generated.provider,
        "model": generated.model,
    }


def register(kinds: KindRegistry) -> None:
    # Encoding (local provider) and downloading clips are heavy: two at a time per worker unless
    # GENLOOM_KIND_CONCURRENCY says otherwise.
    kinds.register(JobKind(KIND, run, VideoGenerateInput, concurrency=2))
