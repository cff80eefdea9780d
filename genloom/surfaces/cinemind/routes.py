"""cineMind surface (seed 000): tasks, results, media browser, image nodes, ``/ws/tasks`` and health extras.

Translation only: requests go to :mod:`genloom.cinemind.service`, :mod:`genloom.cinemind.media_tree` and the
queue; responses are wrapped in ``{"code", "message", "data"}`` (:mod:`genloom.surfaces.cinemind.envelope`, which also
documents the business error codes). The node routes live in :mod:`genloom.surfaces.cinemind.nodes`; this module renders
the errors of both.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse

from genloom.cinemind import media_tree
from genloom.cinemind import service as cinemind_service
from genloom.core.errors import GenloomError, Unavailable
from genloom.core.http import path_startswith
from genloom.core.paging import MAX_DB_INT
from genloom.core.principal import Principal
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import CinemindCaller as Caller
from genloom.identity.deps import CinemindWsCaller
from genloom.runtime import Runtime
from genloom.storage.errors import BlobNotFound
from genloom.surfaces.cinemind import ws
from genloom.surfaces.cinemind.envelope import Envelope, envelope_example, error_example, error_response, ok
from genloom.surfaces.cinemind.health import dependency_report
from genloom.surfaces.cinemind.negotiation import wants_image
from genloom.system.health import HealthReport, check_redis

router = APIRouter()
IMMUTABLE = "private, max-age=31536000, immutable"  # a graph id's bytes never change

_TASK_ID = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
_GRAPH_ID = "0193a1b2-8d9e-7f00-8a1b-2c3d4e5f6a7b"
_URL = "/media/images/2026/11/23/" + _GRAPH_ID + ".png?exp=1795000000&sig=3f2a…"
_THUMB = "/media/thumbs/2026/11/23/" + _GRAPH_ID + "_thumb.jpg?exp=1795000000&sig=9b1c…"
BRIEF_EXAMPLES = {
    "chinese-keys": {
        "summary": "A brief with Chinese keys",
        "value": {"主体": "雨夜的霓虹街道，一位撑伞的少女", "场景": "赛博朋克城市", "比例": "16:9", "风格": ["电影感", "动漫"],
                  "数量": 2, "种子": 42, "负面提示": "模糊，低质量"},
    },
    "frontend": {"summary": "The frontend's fields", "value": {"prompts": {"zh": "月光下的竹林", "en": "a bamboo forest under moonlight"},
                                                                 "分辨率": "1024x768"}},
}
_ACCEPTED = {"taskId": _TASK_ID, "status": "queued", "graphIds": [_GRAPH_ID], "promptZh": "主体：…；风格：电影感",
             "styleHints": ["电影感"]}
_TASK = {"taskId": _TASK_ID, "status": "completed", "progress": 100, "phase": "record", "error": None,
         "result": {"graphIds": [_GRAPH_ID], "images": [{"graphId": _GRAPH_ID, "url": _URL, "thumbUrl": _THUMB}],
                    "promptZh": "主体：雨夜的霓虹街道；风格：电影感", "promptEn": "Subject: rainy night neon street; Style: cinematic",
                    "styleHints": ["电影感"]},
         "graphIds": [_GRAPH_ID], "createdAt": "2026-11-23T10:00:00Z", "startedAt": "2026-11-23T10:00:01Z",
         "finishedAt": "2026-11-23T10:00:09Z"}
_META = {"graphId": _GRAPH_ID, "taskId": _TASK_ID, "url": _URL, "thumbUrl": _THUMB, "mime": "image/png", "size": 183422,
         "checksum": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "width": 1024, "height": 576,
         "generatedAt": "2026-11-23T10:00:09Z", "relatedNodes": [_TASK_ID], "params": {"width": 1024, "height": 576},
         "promptZh": "主体：雨夜的霓虹街道", "promptEn": "Subject: rainy night neon street", "styleHints": ["电影感"]}


def _json(example: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"example": envelope_example(example)}}}


_BAD_BRIEF = error_example(400, "比例 must look like \"16:9\"", "invalid_input", "比例")

# --- tasks ------------------------------------------------------------------------------------------------


async def _generate(body: Any, session: Any, runtime: Runtime, caller: Principal,
                    idempotency_key: str | None) -> Response:
    accepted = await cinemind_service.create_task_flow(session, runtime, caller, body, idempotency_key=idempotency_key)
    return ok(accepted, status=202, headers={"Location": f"/tasks/{accepted['taskId']}"})


_GENERATE_RESPONSES: dict[int | str, dict[str, Any]] = {202: _json(_ACCEPTED), 400: _BAD_BRIEF}


@router.post("/generate", tags=["Tasks"], summary="Alias of POST /tasks/generate (frontend compatibility)",
             status_code=202, response_model=Envelope[dict[str, Any]], responses=_GENERATE_RESPONSES,
             operation_id="generate_alias")
@router.post("/tasks/generate", tags=["Tasks"], summary="Queue an image generation from a Chinese-key brief",
             status_code=202, response_model=Envelope[dict[str, Any]], responses=_GENERATE_RESPONSES)
async def generate_task(
    session: SessionDep, runtime: RuntimeDep, caller: Caller,
    body: Annotated[dict[str, Any], Body(openapi_examples=BRIEF_EXAMPLES)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    return await _generate(body, session, runtime, caller, idempotency_key)


@router.get("/tasks/{task_id}", tags=["Tasks"], summary="A generation task's status and result",
            response_model=Envelope[dict[str, Any]],
            responses={200: _json(_TASK), 404: error_example(404, "Task not found.", "task_not_found", "taskId")})
async def get_task(task_id: str, runtime: RuntimeDep, caller: Caller) -> Response:
    return ok(await cinemind_service.get_task(runtime, caller, task_id))


@router.websocket("/ws/tasks", name="cinemind_ws_tasks")
async def tasks_socket(websocket: WebSocket, caller: CinemindWsCaller,
                       after: Annotated[int | None, Query(ge=0, le=MAX_DB_INT)] = None) -> None:
    await ws.serve(websocket, websocket.app.state.runtime, caller, after)


# --- results ----------------------------------------------------------------------------------------------


@router.get(
    "/results/{graph_id}", tags=["Results"], summary="A generated image (Accept: image/*) or its metadata",
    response_model=Envelope[dict[str, Any]],
    responses={200: {"content": {"application/json": {"example": envelope_example(_META)}, "image/png": {},
                                 "image/jpeg": {}}},
               304: {"description": "Not modified"},
               404: error_example(404, "result … not found", "result_not_found", "graphId")},
)
async def get_result(
    graph_id: str, request: Request, session: ReadSessionDep, runtime: RuntimeDep, caller: Caller,
    thumb: Annotated[bool, Query(description="the thumbnail instead of the image")] = False,
) -> Response:
    row = await cinemind_service.get_result_or_raise(session, caller, graph_id)
    key = row.thumbnail_path if thumb else row.storage_path
    mime = (row.thumb_mime if thumb else row.mime) or "application/octet-stream"
    if not wants_image(request.headers.get("accept"), mime):
        return ok(cinemind_service.result_meta(runtime, row), headers={"Vary": "Accept"})
    if not key:
        raise BlobNotFound("this result has no thumbnail", field="thumb")
    stat = await runtime.blobs.stat(key)
    if stat is None:
        raise BlobNotFound("the stored image is missing", field="graphId")
    etag = f'"{row.checksum[:40]}"' if not thumb else stat.etag
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Vary": "Accept", "X-Content-Type-Options": "nosniff"}
    inm = request.headers.get("if-none-match")
    if inm and any(t.strip().removeprefix("W/") in (etag, "*") for t in inm.split(",")):
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(stat.size)
    return StreamingResponse(runtime.blobs.open(key), media_type=mime, headers=headers)


# --- media browser ----------------------------------------------------------------------------------------

_TREE = {"name": "media", "path": "", "type": "dir", "children": [
    {"name": "images", "path": "images", "type": "dir", "children": [
        {"name": "2026", "path": "images/2026", "type": "dir", "children": []}]},
    {"name": "thumbs", "path": "thumbs", "type": "dir", "children": []}]}
_FILE = {"name": f"{_GRAPH_ID}.png", "path": f"images/2026/11/23/{_GRAPH_ID}.png", "type": "file", "url": _URL,
         "size": 183422, "mime": "image/png", "modifiedAt": "2026-11-23T10:00:09Z"}
_BAD_DIR = error_example(400, "dir must not contain empty, '.' or '..' segments", "invalid_dir", "dir")


@router.get("/media/tree", tags=["Media"], summary="The media folders as a tree", response_model=Envelope[dict[str, Any]],
            responses={200: _json(_TREE), 400: _BAD_DIR})
async def media_tree_route(
    session: ReadSessionDep, runtime: RuntimeDep, caller: Caller,
    dir: Annotated[str | None, Query(max_length=512, description="a folder, e.g. images/2026",
                                     json_schema_extra={"pattern": media_tree.DIR_PATTERN})] = None,
    depth: Annotated[int, Query(ge=1, le=media_tree.MAX_DEPTH)] = media_tree.DEFAULT_DEPTH,
) -> Response:
    return ok(await media_tree.tree(session, runtime, caller, dir=dir, depth=depth))


@router.get("/media/files", tags=["Media"], summary="Files in one media folder (paged)",
            response_model=Envelope[dict[str, Any]],
            responses={200: _json({"dir": "images/2026/11/23", "items": [_FILE], "total": 1, "page": 1, "size": 50}),
                       400: _BAD_DIR})
async def media_files_route(
    session: ReadSessionDep, runtime: RuntimeDep, caller: Caller,
    dir: Annotated[str | None, Query(max_length=512, description="a folder, e.g. images/2026/11/23",
                                     json_schema_extra={"pattern": media_tree.DIR_PATTERN})] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    recursive: Annotated[bool, Query(description="also the files of every folder below dir (images sit in dated "
                                                 "folders: dir=images&recursive=true lists them all)")] = False,
) -> Response:
    return ok(await media_tree.files(session, runtime, caller, dir=dir, page=page, size=size, recursive=recursive))


@router.get("/media/file-meta/{graph_id}", tags=["Media"], summary="Metadata of one generated image",
            response_model=Envelope[dict[str, Any]],
            responses={200: _json(_META), 404: error_example(404, "result … not found", "result_not_found", "graphId")})
async def media_file_meta(graph_id: str, session: ReadSessionDep, runtime: RuntimeDep, caller: Caller) -> Response:
    row = await cinemind_service.get_result_or_raise(session, caller, graph_id)
    return ok(cinemind_service.result_meta(runtime, row))


@router.get("/image-nodes", tags=["Results"], summary="Generated images as mind-map nodes (newest first)",
            response_model=Envelope[list[dict[str, Any]]],
            responses={200: _json([{"id": _GRAPH_ID, "type": "image", "url": _URL, "thumbUrl": _THUMB,
                                    "relatedNodes": [_TASK_ID], "prompt": "主体：雨夜的霓虹街道",
                                    "createdAt": "2026-11-23T10:00:09Z"}])})
async def image_nodes(
    session: ReadSessionDep, runtime: RuntimeDep, caller: Caller,
    node_id: Annotated[str | None, Query(alias="nodeId", json_schema_extra={"format": "uuid"})] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    return ok(await cinemind_service.list_image_nodes(session, runtime, caller, node_id=node_id, limit=limit,
                                                      offset=offset))


# --- health -----------------------------------------------------------------------------------------------


@router.get("/health/redis", tags=["Health"], summary="Redis health (disabled unless USE_REDIS)",
            response_model=Envelope[dict[str, str]],
            responses={200: _json({"redis": "disabled"}),
                       503: error_example(503, "Redis is unreachable", "unavailable")})
async def health_redis(runtime: RuntimeDep) -> Response:
    state = await check_redis(runtime)
    if state == "unhealthy":
        raise Unavailable("Redis is unreachable", code="redis_unavailable", details={"redis": state})
    return ok({"redis": state})


async def health_fields(runtime: Runtime, report: HealthReport, body: dict[str, Any]) -> None:
    """cineMind's part of ``GET /health``: ``code``, ``message`` and ``data`` next to Studio's fields."""
    data = await dependency_report(runtime, database=report.database, redis=report.redis)
    body["code"] = 0 if report.ok else 50301
    body["message"] = "ok" if report.ok else report.problem
    body["data"] = data


# --- errors -----------------------------------------------------------------------------------------------

in_cinemind = path_startswith(
    "/nodes", "/tasks/", "/generate", "/results/", "/media/tree", "/media/files", "/media/file-meta/", "/image-nodes",
    "/ws/tasks", "/health/redis",
)


#: cineMind's error envelope, for the OpenAPI document (genloom.system.openapi)
ERROR_SCHEMA: dict[str, Any] = {
    "title": "CineMindError", "type": "object", "required": ["code", "message", "data"],
    "description": "The cineMind envelope with a business code (docs/cinemind.md); data.error is the machine code.",
    "properties": {"code": {"type": "integer", "description": "business code, e.g. 40001 validation, 40401 not found"},
                   "message": {"type": "string"},
                   "data": {"type": "object", "properties": {"error": {"type": "string"},
                                                           "field": {"type": ["string", "null"]}},
                            "required": ["error"]}},
    "example": {"code": 40401, "message": "node not found", "data": {"error": "node_not_found"}},
}


def render_error(request: Request, err: GenloomError) -> JSONResponse:
    return error_response(err)
