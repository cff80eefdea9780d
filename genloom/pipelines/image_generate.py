"""``image.generate``: prompt → picture(s), stored with thumbnails as the job's assets.

Phases: ``prompting`` (the text provider writes the final prompt), ``generating`` (the image provider; its
progress maps to 10–80 %, and each step it names becomes ``generating: <step>``, e.g. the ComfyUI node that
runs: ``generating: KSampler``), ``storing`` (originals + thumbnails to the blob store, then their rows in one short
transaction). No database transaction is open while a provider works or bytes are written; if inserting
the rows fails, the bytes are deleted again.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.media import service as media_service
from genloom.providers.base import ChatMessage, ImageRequest
from genloom.storage.keys import job_asset_key

KIND = "image.generate"
SEED_LIMIT = 2**32
GENERATING_FROM, GENERATING_TO = 10, 80  # % of the job spent in the image provider
DEFAULT_SIDE = 1024  # px, when neither the request nor the provider says otherwise
PROMPT_SYSTEM = "Rewrite the user's idea as one concise English prompt for an image model."


class ImageGenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(min_length=1, max_length=4000)
    negative_prompt: str | None = Field(default=None, max_length=4000)
    #: absent: the provider's default size (1024×1024; a ComfyUI template's own ``defaults``)
    width: int | None = Field(default=None, ge=64, le=2048)
    height: int | None = Field(default=None, ge=64, le=2048)
    #: random when absent; the chosen seed is part of the result
    seed: int | None = Field(default=None, ge=0, lt=SEED_LIMIT)
    count: int = Field(default=1, ge=1, le=4)
    workflow: str | None = Field(default=None, max_length=100)
    style: str | None = Field(default=None, max_length=200)
    #: the image model (provider-specific name); the configured GENLOOM_IMAGE_MODEL when absent
    model: str | None = Field(default=None, min_length=1, max_length=100)
    #: sampler steps and guidance (CFG) scale, for providers that take them (ComfyUI, Make)
    steps: int | None = Field(default=None, ge=1, le=150)
    cfg: float | None = Field(default=None, ge=0, le=30)
    #: let the text provider rewrite the prompt (seed 002's ``user_polish``); false sends it as written
    polish: bool = True

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


async def _final_prompt(ctx: JobContext, params: ImageGenerateInput) -> tuple[str, str]:
    if not params.polish:
        return params.prompt, (params.negative_prompt or "").strip()
    system = PROMPT_SYSTEM
    if params.style:
        system += f"\nstyle: {params.style}"
    result = await ctx.runtime.providers.text.complete(
        [ChatMessage("system", system), ChatMessage("user", params.prompt)], temperature=0.3
    )
    final = result.text.strip() or params.prompt
    negative = (params.negative_prompt or "").strip()
    if negative:
        negative_result = await ctx.runtime.providers.text.complete([ChatMessage("user", negative)], temperature=0.0)
        negative = negative_result.text.strip() or negative
    return final, negative


async def run(ctx: JobContext) -> dict[str, Any]:
    params = ImageGenerateInput.model_validate(ctx.input)
    runtime = ctx.runtime
    await ctx.set_phase("prompting", 0)
    final, negative = await _final_prompt(ctx, params)

    await ctx.set_phase("generating", GENERATING_FROM)
    seed = params.seed if params.seed is not None else secrets.randbelow(SEED_LIMIT)

    async def on_progress(fraction: float, step: str | None) -> None:
        span = GENERATING_TO - GENERATING_FROM
        await ctx.report(GENERATING_FROM + span * max(0.0, min(1.0, fraction)),
                         f"generating: {step}" if step else None)

    generated = await runtime.providers.image.generate(
        ImageRequest(prompt=final, negative_prompt=negative, width=params.width or DEFAULT_SIDE,
                     height=params.height or DEFAULT_SIDE, seed=seed, count=params.count, workflow=params.workflow,
                     model=params.model, steps=params.steps, extra={"cfg": params.cfg} if params.cfg is not None else {},
                     size_is_default=params.width is None and params.height is None),
        progress=on_progress,
    )

    await ctx.set_phase("storing", GENERATING_TO)

    def key(asset_id: str, ext: str) -> str:
        return job_asset_key(ctx.job_id, asset_id, ext)

    written: list[media_service.PendingAsset] = []
    try:
        for media in generated.images:
            written.extend(await media_service.write_image_with_thumbnail(
                runtime.blobs, owner_id=ctx.owner_id, data=media.data, key=key, thumb_key=key, job_id=ctx.job_id,
            ))
            await ctx.report(GENERATING_TO + 15 * len(written) / (2 * len(generated.images)))
        async with runtime.db.session() as session:
            rows = await media_service.add_assets(session, written)
    except BaseException:
        await media_service.discard(runtime.blobs, written)
        raise
    await ctx.report(99)
    originals = rows[0::2]
    thumbs = rows[1::2]
    return {
        "images": [
            {
                "asset_id": original.id,
                "url": runtime.blobs.url(original.key),
                "thumbnail_url": runtime.blobs.url(thumb.key),
                "width": original.width,
                "height": original.height,
                "mime": original.mime,
                "sha256": original.sha256,
            }
            for original, thumb in zip(originals, thumbs, strict=True)
        ],
        "prompt": {"final": final, "negative": negative},
        "provider": generated.provider,
        "model": generated.model,
        "seed": seed,
    }


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind(KIND, run, ImageGenerateInput))
