"""GenFlow's article routes: CRUD with versions, diff and restore, collaborators, and search — thin
translations to :mod:`genloom.articles` and :mod:`genloom.search`. Errors are native problem+json."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.articles import collaborators as sharing
from genloom.articles import service
from genloom.articles.listing import ArticleQuery, list_articles
from genloom.articles.models import Article
from genloom.core.paging import (
    CURSOR_PATTERN,
    OFFSET_CURSOR_PATTERN,
    decode_cursor,
    decode_offset_cursor,
    encode_cursor,
    encode_offset_cursor,
)
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import GenflowCaller
from genloom.surfaces.genflow import reads
from genloom.surfaces.genflow.collab import track_rest_save
from genloom.surfaces.genflow.schemas import (
    ArticleCreate,
    ArticleOut,
    ArticlePage,
    ArticlePatch,
    ArticleSave,
    DiffOut,
    SearchPage,
    VersionOut,
    VersionPage,
    article_of,
    diff_of,
    problem,
    summary_of,
    version_of,
    version_summary_of,
)

router = APIRouter(prefix="/articles", tags=["Articles"])

ArticleId = Annotated[str, Path(description="article id (UUID)")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag from GET; stale → 412")]
#: the nextCursor of the previous page: an id for lists in id order, a position for ranked lists and versions
IdCursor = Annotated[str | None, Query(description="nextCursor of the previous page", json_schema_extra={
    "pattern": CURSOR_PATTERN, "example": "MDFhMjNiYTUtYjc4Zi03MDA3LWEyYWItNDJiZDg1N2FiNmU1"})]
PositionCursor = Annotated[str | None, Query(description="nextCursor of the previous page", json_schema_extra={
    "pattern": OFFSET_CURSOR_PATTERN, "example": "cDoyMA"})]
AUTHOR_PATTERN = "^(me|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
Responses = dict[int | str, dict[str, Any]]

UNAUTHENTICATED: Responses = {401: problem(401, "not_authenticated", "this surface needs a signed-in user")}
INVALID: Responses = {400: problem(400, "validation_error", "title: String should have at least 1 character",
                                   "title")}
NOT_FOUND: Responses = {404: problem(404, "article_not_found", f"article {'0' * 8}-… not found", "id")}
READ_ONLY: Responses = {403: problem(403, "article_read_only", "You may read this article but not change it.")}
AUTHOR_ONLY: Responses = {403: problem(403, "author_only", "Only the article's author (or an admin) may do this.")}
STALE: Responses = {
    409: problem(409, "version_conflict", "version 2 is stale; the current version is 3", "version"),
    412: problem(412, "precondition_failed", "If-Match does not match the current ETag \"3-…\"", "If-Match"),
}
TOO_LARGE: Responses = {413: problem(413, "content_too_large", "content is larger than 1048576 bytes of UTF-8",
                                     "content")}
HEADERS = {"Cache-Control": "private, no-cache"}


def _json(model: BaseModel, *, status: int = 200, etag: str | None = None) -> JSONResponse:
    headers = dict(HEADERS) | ({"ETag": etag} if etag else {})
    return JSONResponse(model.model_dump(mode="json", by_alias=True), status_code=status, headers=headers)


def _ok(model: type[BaseModel], extra: Responses | None = None) -> Responses:
    example = (model.model_config.get("json_schema_extra") or {}).get("example")  # type: ignore[union-attr]
    return {200: {"model": model, "content": {"application/json": {"example": example}}}, **UNAUTHENTICATED,
            **(extra or {})}


async def _article_response(session: AsyncSession, article: Article, *, status: int = 200) -> JSONResponse:
    collaborators = await sharing.collaborator_ids(session, article.id)
    return _json(article_of(article, collaborators), status=status, etag=service.etag_for(article))


@router.post("", status_code=201, summary="Write an article (version 1)", response_model=ArticleOut,
             responses={201: {"description": "Created; ETag and Location headers set", "content": {
                 "application/json": {"example": ArticleOut.model_config["json_schema_extra"]["example"]}}},  # type: ignore[index]
                 **UNAUTHENTICATED,
                        **INVALID, **TOO_LARGE})
async def create_article(body: ArticleCreate, session: SessionDep, caller: GenflowCaller) -> Response:
    article = await service.create_article(session, caller, title=body.title, content=body.content,
                                           status=body.status)
    response = await _article_response(session, article, status=201)
    response.headers["Location"] = f"/articles/{article.id}"
    return response


@router.get("", summary="Articles you may read: yours and shared ones in any status, everyone's published",
            response_model=ArticlePage, responses=_ok(ArticlePage, INVALID))
async def list_(
    session: ReadSessionDep, caller: GenflowCaller,
    q: Annotated[str | None, Query(max_length=200, description="substring of the title (case-insensitive)")] = None,
    status: Annotated[Literal["draft", "published", "deleted"] | None,
                      Query(description="draft | published | deleted (your deleted articles)")] = None,
    author: Annotated[str | None, Query(description="a user id, or \"me\"", pattern=AUTHOR_PATTERN,
                                        json_schema_extra={"example": "me"})] = None,
    cursor: IdCursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    after = decode_cursor(cursor) if cursor else None
    items, more = await list_articles(session, caller, ArticleQuery(q=q or None, status=status, author=author,
                                                                     after_id=after, limit=limit))
    page = ArticlePage(items=[summary_of(a) for a in items],
                       next_cursor=encode_cursor(items[-1].id) if more and items else None)
    return _json(page)


@router.get("/search", summary="Full-text search (Chinese-aware), ranked: title hits above body hits",
            response_model=SearchPage, responses=_ok(SearchPage, INVALID))
async def search(
    runtime: RuntimeDep, caller: GenflowCaller,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words to find; all must match")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: PositionCursor = None,
) -> Response:
    return await reads.search_response(runtime, caller, q, limit=limit, cursor=cursor)


@router.get("/{article_id}", summary="Read an article (ETag; If-None-Match → 304)", response_model=ArticleOut,
            responses={**_ok(ArticleOut, NOT_FOUND), 304: {"description": "Not modified"}})
async def get_article(
    article_id: ArticleId, runtime: RuntimeDep, caller: GenflowCaller,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    # usually answered before routing (genloom.surfaces.genflow.reads.HOT_READS); this is its fallback
    return await reads.article_response(runtime, caller, article_id, if_none_match)


@router.put("/{article_id}", summary="Save a new version (If-Match or version required)", response_model=ArticleOut,
            responses=_ok(ArticleOut, {**INVALID, **NOT_FOUND, **READ_ONLY, **STALE, **TOO_LARGE,
                                       428: problem(428, "precondition_required",
                                                    "Send If-Match (the ETag from GET) or \"version\" to save an "
                                                    "article.", "If-Match")}))
async def save_article(article_id: ArticleId, body: ArticleSave, session: SessionDep, caller: GenflowCaller,
                       runtime: RuntimeDep, if_match: IfMatch = None) -> Response:
    article = await track_rest_save(session, runtime, article_id, service.save_version(  # applied to an open editor
        session, caller, article_id, content=body.content, title=body.title, message=body.message,
        if_match=if_match, expected_version=body.version))
    return await _article_response(session, article)


@router.patch("/{article_id}", summary="Change the title (editors) or the status (the author)",
              response_model=ArticleOut,
              responses=_ok(ArticleOut, {**INVALID, **NOT_FOUND, **AUTHOR_ONLY, **STALE}))
async def patch_article(article_id: ArticleId, body: ArticlePatch, session: SessionDep, caller: GenflowCaller,
                        runtime: RuntimeDep, if_match: IfMatch = None) -> Response:
    article = await track_rest_save(session, runtime, article_id, service.update_meta(
        session, caller, article_id, title=body.title, status=body.status, if_match=if_match))
    return await _article_response(session, article)


@router.delete("/{article_id}", status_code=204, summary="Delete (soft: the author or an admin may restore it)",
               responses={**UNAUTHENTICATED, **NOT_FOUND, **AUTHOR_ONLY, **STALE})
async def delete_article(article_id: ArticleId, session: SessionDep, caller: GenflowCaller,
                         if_match: IfMatch = None) -> Response:
    await service.delete_article(session, caller, article_id, if_match=if_match)
    return Response(status_code=204)


@router.post("/{article_id}/restore", summary="Undo a delete (the author or an admin)", response_model=ArticleOut,
             responses=_ok(ArticleOut, NOT_FOUND))
async def restore_article(article_id: ArticleId, session: SessionDep, caller: GenflowCaller) -> Response:
    article = await service.restore_article(session, caller, article_id)
    return await _article_response(session, article)


@router.get("/{article_id}/versions", summary="Versions, newest first (without content)",
            response_model=VersionPage, responses=_ok(VersionPage, NOT_FOUND))
async def list_versions(
    article_id: ArticleId, session: ReadSessionDep, caller: GenflowCaller,
    cursor: PositionCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    before = decode_offset_cursor(cursor) if cursor else None
    versions = await service.list_versions(session, caller, article_id, before=before, limit=limit + 1)
    page = versions[:limit]
    more = len(versions) > limit
    return _json(VersionPage(items=[version_summary_of(v) for v in page],
                             next_cursor=encode_offset_cursor(page[-1].n) if more and page else None))


@router.get("/{article_id}/versions/{n}", summary="One version with its content", response_model=VersionOut,
            responses=_ok(VersionOut, {**NOT_FOUND, 404: problem(404, "version_not_found",
                                                                 "article … has no version 9", "n")}))
async def get_version(article_id: ArticleId, n: Annotated[int, Path(ge=1, le=2**31 - 1)],
                      session: ReadSessionDep, caller: GenflowCaller) -> Response:
    return _json(version_of(await service.get_version(session, caller, article_id, n)))


@router.get("/{article_id}/diff", summary="Unified and line-by-line diff between two versions",
            response_model=DiffOut, responses=_ok(DiffOut, NOT_FOUND))
async def diff(
    article_id: ArticleId, session: ReadSessionDep, caller: GenflowCaller,
    from_: Annotated[int | None, Query(alias="from", ge=1, le=2**31 - 1, description="default: to - 1")] = None,
    to: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="default: the newest version")] = None,
) -> Response:
    from_n, to_n, result = await service.diff_article(session, caller, article_id, from_n=from_, to_n=to)
    return _json(diff_of(from_n, to_n, result))


@router.post("/{article_id}/versions/{n}/restore", summary="Save a new version equal to version n",
             response_model=ArticleOut, responses=_ok(ArticleOut, {**NOT_FOUND, **READ_ONLY, **STALE}))
async def restore_version(article_id: ArticleId, n: Annotated[int, Path(ge=1, le=2**31 - 1)],
                          session: SessionDep, caller: GenflowCaller, runtime: RuntimeDep,
                          if_match: IfMatch = None) -> Response:
    article = await track_rest_save(session, runtime, article_id,
                                    service.restore_version(session, caller, article_id, n, if_match=if_match))
    return await _article_response(session, article)


@router.put("/{article_id}/collaborators/{user_id}", summary="Invite a user to edit (the author)",
            response_model=ArticleOut,
            responses=_ok(ArticleOut, {**NOT_FOUND, **AUTHOR_ONLY,
                                       400: problem(400, "invalid_collaborator",
                                                    "The author already has every right; invite someone else.",
                                                    "userId")}))
async def add_collaborator(article_id: ArticleId, user_id: str, session: SessionDep, caller: GenflowCaller) -> Response:
    article = await sharing.add_collaborator(session, caller, article_id, user_id)
    return await _article_response(session, article)


@router.delete("/{article_id}/collaborators/{user_id}", summary="Withdraw an invitation (the author)",
               response_model=ArticleOut, responses=_ok(ArticleOut, {**NOT_FOUND, **AUTHOR_ONLY}))
async def remove_collaborator(article_id: ArticleId, user_id: str, session: SessionDep,
                              caller: GenflowCaller) -> Response:
    article = await sharing.remove_collaborator(session, caller, article_id, user_id)
    return await _article_response(session, article)
