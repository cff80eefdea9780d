"""``image.analyze``: a picture of the job's owner → a structured analysis from the vision provider.

By default it asks for what the children's drawing apps need (ability scores 0–100 for colour, composition,
detail and creativity, with short Chinese and English comments); ``instruction`` replaces that question.
The analysis is the job's result and is also stored as a JSON asset (kind ``analysis``, derived from the
picture), so it can be listed and fetched with the owner's other media after the job itself is pruned.

Phases: ``preparing`` (the picture is read), ``analyzing``, ``storing``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.media import images
from genloom.media import service as media_service
from genloom.pipelines.inputs import load_owned_asset, require_provider
from genloom.providers.base import VisionRequest
from genloom.storage.keys import job_asset_key

KIND = "image.analyze"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
DEFAULT_INSTRUCTION = (
    "You are a kind art teacher looking at a child's drawing. Score colour, composition, detail and creativity "
    "from 0 to 100, and give one short comment per ability in Chinese and in English."
)
SCHEMA_HINT: dict[str, Any] = {
    "scores": {"color": "int 0-100", "composition": "int 0-100", "detail": "int 0-100", "creativity": "int 0-100"},
    "overall": "int 0-100",
    "comments": {"zh": {"color": "str"}, "en": {"color": "str"}},
    "summary": {"zh": "str", "en": "str"},
}


class ImageAnalyzeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    image_asset_id: str = Field(min_length=1, max_length=36)
    #: the question to ask instead of the default drawing assessment (free-form analyses get no schema hint)
    instruction: str | None = Field(default=None, min_length=1, max_length=4000)


async def run(ctx: JobContext) -> dict[str, Any]:
    params = ImageAnalyzeInput.model_validate(ctx.input)
    runtime = ctx.runtime
    provider = require_provider(runtime.providers.vision, code="vision_unavailable", what="vision",
                                setting="GENLOOM_VISION_PROVIDER")
    await ctx.set_phase("preparing", 0)
    picture = await load_owned_asset(ctx, params.image_asset_id, field="input.image_asset_id",
                                     mime_prefixes=("image/",), what="an image", max_bytes=MAX_IMAGE_BYTES)

    await ctx.set_phase("analyzing", 20)
    result = await provider.analyze(VisionRequest(
        image=picture.data, image_mime=picture.mime, instruction=params.instruction or DEFAULT_INSTRUCTION,
        schema_hint=None if params.instruction else SCHEMA_HINT,
    ))

    await ctx.set_phase("storing", 90)
    document = {"image_asset_id": picture.id, "provider": result.provider, "model": result.model,
                "analysis": result.data}
    data = json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
    info = images.MediaInfo(mime="application/json", size=len(data), sha256=images.sha256_hex(data))
    pending = await media_service.write_blob(
        runtime.blobs, owner_id=ctx.owner_id, data=data, kind="analysis", mime="application/json", info=info,
        key=lambda asset_id, ext: job_asset_key(ctx.job_id, asset_id, ext), derived_from=picture.id,
        job_id=ctx.job_id,
    )
    try:
        async with runtime.db.session() as session:
            await media_service.add_assets(session, [pending])
    except BaseException:
        await media_service.discard(runtime.blobs, [pending])
        raise
    await ctx.report(99)
    return {
        "analysis": result.data,
        "analysis_asset": {"asset_id": pending.id, "url": runtime.blobs.url(pending.key), "mime": "application/json",
                           "size": info.size, "sha256": info.sha256},
        "provider": result.provider,
        "model": result.model,
    }


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind(KIND, run, ImageAnalyzeInput))
