"""cineMind's node routes (``/nodes``): thin translations to :mod:`genloom.nodes.service` in the cineMind envelope.

Errors on these paths are rendered by the cineMind surface's ``render_error`` (``genloom.surfaces.cinemind.routes``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from genloom.core.etags import etag_matches
from genloom.core.rfc3339 import Rfc3339
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import CinemindCaller as Caller
from genloom.nodes import keywords as keywords_service
from genloom.nodes import service as nodes_service
from genloom.nodes.models import MindNode
from genloom.nodes.schemas import (
    MAX_PAGE_SIZE,
    KeywordList,
    NodeCreate,
    NodeList,
    NodeRead,
    NodeSort,
    NodeStatus,
    NodeUpdate,
    node_out,
)
from genloom.surfaces.cinemind.envelope import Envelope, error_example, ok

router = APIRouter(prefix="/nodes", tags=["Nodes"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: error_example(404, "node 0193a1b2-… not found", "node_not_found", "id")}
_BAD: dict[int | str, dict[str, Any]] = {400: error_example(400, "content: String should have at least 1 character", "validation_error", "content")}


def _node_response(node: MindNode, *, status: int = 200) -> JSONResponse:
    return ok(node_out(node), status=status,
              headers={"ETag": nodes_service.etag_for(node), "Cache-Control": "private, no-cache"})


@router.post("", status_code=201, response_model=Envelope[NodeRead], responses=_BAD, summary="Create a node")
async def create_node(body: NodeCreate, session: SessionDep, caller: Caller) -> Response:
    node = await nodes_service.create_node(session, caller, body)
    response = _node_response(node, status=201)
    response.headers["Location"] = f"/nodes/{node.id}"
    return response


@router.get("", response_model=Envelope[NodeList], responses=_BAD, summary="List nodes (paged, filtered)")
async def list_nodes(
    session: ReadSessionDep,
    caller: Caller,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    q: Annotated[str | None, Query(max_length=200, description="substring of the content")] = None,
    status: NodeStatus | None = None,
    updated_since: Annotated[Rfc3339 | None, Query(alias="updatedSince")] = None,
    sort: NodeSort = NodeSort.updated_desc,
    include_deleted: Annotated[bool, Query(alias="includeDeleted")] = False,
) -> Response:
    query = nodes_service.NodeQuery(page=page, size=size, q=q or None, status=status, updated_since=updated_since,
                                    sort=sort, include_deleted=include_deleted)
    items, total = await nodes_service.list_nodes(session, caller, query)
    return ok({"items": [node_out(n) for n in items], "total": total, "page": page, "size": size})


@router.get("/{node_id}", response_model=Envelope[NodeRead], summary="Read a node (ETag; If-None-Match → 304)",
            responses={**_NOT_FOUND, 304: {"description": "Not modified (If-None-Match matched the ETag)"}})
async def get_node(
    node_id: str, session: ReadSessionDep, caller: Caller,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    node = await nodes_service.get_node_or_raise(session, caller, node_id)
    etag = nodes_service.etag_for(node)
    if if_none_match and etag_matches(if_none_match, etag, weak=True):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "private, no-cache"})
    return _node_response(node)


@router.put(
    "/{node_id}", response_model=Envelope[NodeRead], summary="Update a node (If-Match or version required)",
    responses={
        **_NOT_FOUND, **_BAD,
        409: error_example(409, "version 1 is stale; the current version is 2", "version_conflict", "version"),
        412: error_example(412, "If-Match does not match the current ETag", "precondition_failed", "If-Match"),
        428: error_example(428, "Send If-Match (the ETag from GET) or \"version\" to update a node.",
                           "precondition_required", "If-Match"),
    },
)
async def update_node(
    node_id: str, body: NodeUpdate, session: SessionDep, caller: Caller,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    node = await nodes_service.update_node(session, caller, node_id, body, if_match=if_match)
    return _node_response(node)


@router.delete("/{node_id}", response_model=Envelope[NodeRead], summary="Soft-delete a node (If-Match optional)",
               responses={**_NOT_FOUND, 412: error_example(412, "If-Match does not match the current ETag",
                                                            "precondition_failed", "If-Match")})
async def delete_node(
    node_id: str, session: SessionDep, caller: Caller,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    node = await nodes_service.delete_node(session, caller, node_id, if_match=if_match)
    return ok(node_out(node))


@router.post("/{node_id}/restore", response_model=Envelope[NodeRead], responses=_NOT_FOUND,
             summary="Restore a soft-deleted node")
async def restore_node(node_id: str, session: SessionDep, caller: Caller) -> Response:
    node = await nodes_service.restore_node(session, caller, node_id)
    return _node_response(node)


@router.get(
    "/{node_id}/keywords", response_model=Envelope[KeywordList], summary="Top keywords of a node",
    responses={**_NOT_FOUND, 502: error_example(502, "the text provider failed", "upstream_failed")},
    description="With `Is_full_by_AI=true` the configured text provider extracts them; otherwise jieba TF-IDF "
                "over the node with IDF from all live nodes.",
)
async def node_keywords(
    node_id: str, session: ReadSessionDep, runtime: RuntimeDep, caller: Caller,
    top: Annotated[int, Query(ge=1, le=keywords_service.MAX_TOP)] = 10,
) -> Response:
    node = await nodes_service.get_node_or_raise(session, caller, node_id)
    items: list[dict[str, Any]]
    if runtime.settings.is_full_by_ai:
        source = "ai"
        items = await keywords_service.keywords_from_provider(runtime.providers.text, node, top=top)
    else:
        source = "database"
        index = runtime.keywords
        items = await keywords_service.keywords_from_database(session, caller, node, index=index, top=top)
    return ok({"nodeId": node.id, "source": source, "items": items})
