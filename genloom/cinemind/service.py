"""cineMind's rules: generation tasks (validate → enqueue), their status, graph results and image nodes.

A cineMind task is a ``cinemind.generate`` job; statuses map to cineMind's words (succeeded → completed,
canceled → failed). Media URLs are relative, signed ``/media/{key}?exp=…&sig=…`` links, signed when read (so
stored rows and job results keep keys, never expiring URLs). Services take the session first, never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.cinemind import pipeline
from genloom.cinemind.errors import ResultNotFound, TaskNotFound, UnknownNodes
from genloom.cinemind.models import GraphResult, GraphResultNode
from genloom.cinemind.prompt import build_prompt, style_rules
from genloom.cinemind.request import K_MODEL, K_NODES, parse_brief
from genloom.core.errors import InvalidInput
from genloom.core.ids import is_uuid, new_id
from genloom.core.principal import Principal, scoped
from genloom.jobs import service as jobs_service
from genloom.jobs.errors import JobNotFound
from genloom.nodes import service as nodes_service
from genloom.runtime import Runtime

STATUS_WORDS = {"queued": "queued", "running": "running", "succeeded": "completed", "failed": "failed",
                "canceled": "failed"}
RESOURCE = "graph_results"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# --- media URLs -------------------------------------------------------------------------------------------


def sign_relative(runtime: Runtime, key: str, *, expires_s: int) -> str:
    """A signed ``/media/…`` URL without the public host: cineMind's clients resolve it against the API host
    they called (the media route, :mod:`genloom.surfaces.native.media`, verifies it)."""
    url, _exp = runtime.signer.sign(key, expires_s=expires_s)
    return url.removeprefix(runtime.signer.base_url)


def media_url(runtime: Runtime, key: str | None) -> str | None:
    if not key:
        return None
    return sign_relative(runtime, key, expires_s=runtime.settings.presign_expires_s)


# --- tasks ------------------------------------------------------------------------------------------------


async def create_task_flow(session: AsyncSession, runtime: Runtime, principal: Principal, body: Any, *,
                           idempotency_key: str | None = None) -> dict[str, Any]:
    """Validate a Chinese-key brief, check its nodes, build the prompts and enqueue the generation."""
    brief = parse_brief(body)
    configured = runtime.providers.image.name
    if brief.provider is not None and brief.provider != configured:
        raise InvalidInput(f"{K_MODEL}: the image provider {brief.provider!r} is not configured "
                           f"(this server uses {configured!r})", field=K_MODEL)
    if brief.related_nodes:
        missing = await nodes_service.missing_nodes(session, principal, brief.related_nodes)
        if missing:
            raise UnknownNodes(f"{K_NODES}: these nodes do not exist or were deleted: {', '.join(missing[:10])}",
                               field=K_NODES, details={"missing": missing})
    built = build_prompt(brief.fields, styles=brief.styles, negative=brief.negative, lead=brief.lead,
                         english=brief.english, rules=style_rules(runtime.settings.cinemind_style_rules))
    graph_ids = [new_id() for _ in range(brief.count)]
    job_input = pipeline.GenerateInput(
        graph_ids=graph_ids, prompt_zh=built.prompt_zh, prompt_en=built.prompt_en, english_given=bool(brief.english),
        style_hints=built.style_hints, negative_prompt=built.negative_prompt, width=brief.width, height=brief.height,
        seed=brief.seed, model=brief.model, related_nodes=brief.related_nodes,
        params={**brief.params(), "fields": brief.fields, "filtered": built.filtered},
    ).model_dump(mode="json")
    job = await jobs_service.create_job(session, runtime, principal, kind=pipeline.KIND, input=job_input,
                                        idempotency_key=idempotency_key, surface=pipeline.SURFACE)
    if job["input"].get("graph_ids") != graph_ids:  # a repeated Idempotency-Key returns the first task
        graph_ids = list(job["input"].get("graph_ids", []))
    return {"taskId": job["id"], "status": STATUS_WORDS[job["status"]], "graphIds": graph_ids,
            "promptZh": built.prompt_zh, "styleHints": built.style_hints}


def task_result(runtime: Runtime, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cineMind result block of a finished job (URLs signed now)."""
    if not result:
        return None
    images = [{"graphId": i["graphId"], "url": media_url(runtime, i.get("key")),
               "thumbUrl": media_url(runtime, i.get("thumbKey"))} for i in result.get("images", [])]
    return {"graphIds": result.get("graphIds", []), "images": images, "promptZh": result.get("promptZh", ""),
            "promptEn": result.get("promptEn", ""), "styleHints": result.get("styleHints", [])}


def task_view(runtime: Runtime, job: dict[str, Any]) -> dict[str, Any]:
    """A job in cineMind's task shape."""
    error = job.get("error")
    return {
        "taskId": job["id"],
        "status": STATUS_WORDS[job["status"]],
        "progress": job["progress"],
        "phase": job.get("phase"),
        "error": {"code": error.get("code"), "message": error.get("message")} if error else None,
        "result": task_result(runtime, job.get("result")) if job["status"] == "succeeded" else None,
        "graphIds": list((job.get("input") or {}).get("graph_ids", [])),
        "createdAt": job.get("created_at"),
        "startedAt": job.get("started_at"),
        "finishedAt": job.get("finished_at"),
    }


async def get_task(runtime: Runtime, principal: Principal, task_id: str) -> dict[str, Any]:
    """The caller's cineMind task; TaskNotFound for unknown ids, other kinds and other owners."""
    if not is_uuid(task_id):
        raise TaskNotFound(field="taskId")
    try:
        job = await jobs_service.read_job(runtime, principal, task_id)
    except JobNotFound:
        raise TaskNotFound(field="taskId") from None
    if job["kind"] != pipeline.KIND:
        raise TaskNotFound(field="taskId")
    return task_view(runtime, job)


# --- results ----------------------------------------------------------------------------------------------


async def get_result_or_raise(session: AsyncSession, principal: Principal, graph_id: str) -> GraphResult:
    row: GraphResult | None = None
    if is_uuid(graph_id):
        stmt = scoped(select(GraphResult).where(GraphResult.id == graph_id), GraphResult.owner_id, principal,
                      RESOURCE)
        row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise ResultNotFound(f"result {graph_id} not found", field="graphId")
    return row


def result_meta(runtime: Runtime, row: GraphResult) -> dict[str, Any]:
    """The metadata of one generated image (``/results/{id}`` and ``/media/file-meta/{id}``)."""
    return {
        "graphId": row.id,
        "taskId": row.task_id,
        "url": media_url(runtime, row.storage_path),
        "thumbUrl": media_url(runtime, row.thumbnail_path),
        "storagePath": row.storage_path,
        "thumbnailPath": row.thumbnail_path,
        "mime": row.mime,
        "size": row.size,
        "checksum": row.checksum,
        "width": row.width,
        "height": row.height,
        "generatedAt": _iso(row.generated_at),
        "relatedNodes": list(row.related_nodes or []),
        "params": row.params or {},
        "promptZh": row.prompt_zh,
        "promptEn": row.prompt_en,
        "styleHints": list(row.style_hints or []),
        "provider": row.provider,
        "model": row.model,
    }


async def list_image_nodes(session: AsyncSession, runtime: Runtime, principal: Principal, *,
                           node_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Generated images shaped as mind-map nodes, newest first; ``node_id`` keeps those related to one node."""
    stmt = scoped(select(GraphResult), GraphResult.owner_id, principal, RESOURCE)
    if node_id is not None:
        if not is_uuid(node_id):
            raise InvalidInput("nodeId must be a node id (UUID)", field="nodeId")
        stmt = stmt.where(GraphResult.id.in_(
            select(GraphResultNode.graph_id).where(GraphResultNode.node_id == node_id.lower())))
    stmt = stmt.order_by(GraphResult.generated_at.desc(), GraphResult.id.desc()).offset(offset).limit(limit)
    rows = (await session.execute(stmt)).scalars().all()
    return [
        {"id": r.id, "type": "image", "url": media_url(runtime, r.storage_path),
         "thumbUrl": media_url(runtime, r.thumbnail_path), "relatedNodes": list(r.related_nodes or []),
         "prompt": r.prompt_zh, "promptEn": r.prompt_en, "taskId": r.task_id, "createdAt": _iso(r.generated_at)}
        for r in rows
    ]
