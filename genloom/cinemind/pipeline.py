"""The ``cinemind.generate`` job kind: prompt → image provider → image + thumbnail in the store → graph_results.

Steps (each a job phase): ``prompt`` (a remote text provider such as Qwen refines the English prompt; offline
the rule-built one is kept), ``generate`` (the image provider, its progress mapped to 10–80 %), ``store``
(``images/YYYY/MM/DD/{graphId}.{ext}`` and ``thumbs/YYYY/MM/DD/{graphId}_thumb.{ext}``), ``record`` (one
``graph_results`` row per image, in one short transaction). Graph ids are chosen at enqueue time (the 202
answer lists them), so a retried attempt replaces its own earlier rows instead of adding more. When recording
fails, the files this attempt wrote are deleted again: nothing is half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete

from genloom.cinemind.models import GraphResult, GraphResultNode
from genloom.core.db import utc_now
from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind, KindRegistry
from genloom.media import service as media_service
from genloom.providers.base import ChatMessage, ImageRequest
from genloom.storage.keys import cinemind_image_key, cinemind_thumb_key

log = logging.getLogger("genloom.cinemind")

KIND = "cinemind.generate"
SURFACE = "cinemind"

_REFINE_SYSTEM = (
    "You write prompts for an image generation model. Translate the Chinese brief into one fluent English "
    "prompt (comma-separated phrases, no explanations, no quotes). Keep every subject, setting and style."
)


class GenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    graph_ids: list[str] = Field(min_length=1, max_length=4)
    prompt_zh: str = Field(min_length=1, max_length=40_000)
    prompt_en: str = Field(default="", max_length=40_000)
    #: the client sent its own English prompt: use it as is
    english_given: bool = False
    style_hints: list[str] = Field(default_factory=list)
    negative_prompt: str = ""
    width: int = Field(ge=64, le=2048)
    height: int = Field(ge=64, le=2048)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    model: str | None = None
    related_nodes: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


async def _english(ctx: JobContext, spec: GenerateInput) -> str:
    provider = ctx.runtime.providers.text
    if spec.english_given or provider.name == "local":
        return spec.prompt_en
    system = _REFINE_SYSTEM
    if spec.style_hints:
        system += "\nstyle: " + ", ".join(spec.style_hints)
    result = await provider.complete([ChatMessage("system", system), ChatMessage("user", spec.prompt_zh)],
                                     temperature=0.3, max_tokens=400)
    text = result.text.strip().strip('"')
    return text or spec.prompt_en


async def run_generate(ctx: JobContext) -> dict[str, Any]:
    spec = GenerateInput.model_validate(ctx.input)
    runtime = ctx.runtime
    await ctx.set_phase("prompt", 2)
    prompt_en = await _english(ctx, spec)

    await ctx.set_phase("generate", 10)

    async def on_progress(fraction: float, step: str | None) -> None:
        # the provider's own step (the running ComfyUI node…) shows as a sub-phase: "generate: KSampler"
        await ctx.report(10 + 70 * max(0.0, min(1.0, fraction)), f"generate: {step}" if step else None)

    image_provider = runtime.providers.image
    result = await image_provider.generate(
        ImageRequest(prompt=prompt_en or spec.prompt_zh, negative_prompt=spec.negative_prompt, width=spec.width,
                     height=spec.height, seed=spec.seed, count=len(spec.graph_ids), model=spec.model),
        progress=on_progress,
    )
    ctx.check_canceled()
    await ctx.set_phase("store", 85)
    when = utc_now()
    written: list[media_service.PendingAsset] = []
    rows: list[dict[str, Any]] = []
    try:
        for graph_id, media in zip(spec.graph_ids, result.images, strict=False):
            original, thumb = await media_service.write_image_with_thumbnail(
                runtime.blobs, owner_id=ctx.owner_id, data=media.data,
                key=_key_fn(cinemind_image_key, graph_id, when),
                thumb_key=_key_fn(cinemind_thumb_key, graph_id, when),
                job_id=ctx.job_id,
            )
            written += [original, thumb]
            rows.append(_row(ctx, spec, graph_id, original, thumb, prompt_en, when, result.provider, result.model))
        await ctx.set_phase("record", 95)
        await _record(ctx, spec, rows)
    except BaseException:
        await media_service.discard(runtime.blobs, written)
        raise
    log.info("cinemind.generated job_id=%s images=%d provider=%s", ctx.job_id, len(rows), result.provider)
    return {
        "graphIds": [r["id"] for r in rows],
        "images": [{"graphId": r["id"], "key": r["storage_path"], "thumbKey": r["thumbnail_path"]} for r in rows],
        "promptZh": spec.prompt_zh,
        "promptEn": prompt_en,
        "styleHints": spec.style_hints,
        "provider": result.provider,
        "model": result.model,
    }


def _key_fn(layout: Callable[..., str], graph_id: str, when: datetime) -> media_service.KeyFn:
    """The key for a file whose type is known only once its bytes are sniffed (the media service calls back)."""
    def key(_asset_id: str, ext: str) -> str:
        return layout(graph_id, ext, when=when)

    return key


def _row(ctx: JobContext, spec: GenerateInput, graph_id: str, original: media_service.PendingAsset,
         thumb: media_service.PendingAsset, prompt_en: str, when: datetime, provider: str, model: str) -> dict[str, Any]:
    return {
        "id": graph_id, "owner_id": ctx.owner_id, "task_id": ctx.job_id, "related_nodes": spec.related_nodes,
        "params": {**spec.params, "width": original.info.width, "height": original.info.height},
        "prompt_zh": spec.prompt_zh, "prompt_en": prompt_en, "style_hints": spec.style_hints,
        "storage_path": original.key, "thumbnail_path": thumb.key, "mime": original.mime or original.info.mime,
        "thumb_mime": thumb.mime or thumb.info.mime, "size": original.info.size, "checksum": original.info.sha256,
        "width": original.info.width, "height": original.info.height, "provider": provider[:32],
        "model": (model or "")[:100], "generated_at": when,
    }


async def _record(ctx: JobContext, spec: GenerateInput, rows: list[dict[str, Any]]) -> None:
    async with ctx.runtime.db.session() as session:
        # a retried attempt replaces what an earlier attempt of this job recorded
        await session.execute(delete(GraphResultNode).where(GraphResultNode.graph_id.in_(spec.graph_ids)))
        await session.execute(delete(GraphResult).where(GraphResult.id.in_(spec.graph_ids)))
        session.add_all(GraphResult(**row) for row in rows)
        await session.flush()
        session.add_all(GraphResultNode(graph_id=row["id"], node_id=node) for row in rows for node in spec.related_nodes)


def register(kinds: KindRegistry) -> None:
    kinds.register(JobKind(KIND, run_generate, GenerateInput))


__all__ = ["KIND", "SURFACE", "GenerateInput", "register"]
