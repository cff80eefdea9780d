"""GenFlow's two hottest reads, ``GET /articles/{id}`` and ``GET /articles/search``, kept lean.

Each is the caller's token check and ONE Core statement on a reader connection (no ORM session), and the
body is written by the response model's own serializer from an unvalidated instance (the values come from
the database, already of the declared types), so the JSON is what the documented models produce.

Both routes call these functions, and :mod:`genloom.system.hot_reads` calls them before routing (see
:data:`HOT_READS`). The fast path hands anything unusual — an unknown or hidden article, a bad token, query
parameters the route would refuse, a database error — to the full app, which answers in the route's own
error shape.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from genloom.articles.errors import ArticleNotFound
from genloom.articles.reads import ArticleRecord, read_visible
from genloom.articles.service import etag_for
from genloom.core.errors import InvalidInput, Unavailable
from genloom.core.etags import etag_matches
from genloom.core.ids import is_uuid
from genloom.core.paging import decode_offset_cursor, encode_offset_cursor
from genloom.core.principal import Principal
from genloom.identity.deps import caller_of
from genloom.runtime import Runtime
from genloom.search.service import MAX_LIMIT, MAX_QUERY_CHARS, search_articles
from genloom.surfaces.genflow.schemas import ArticleOut, SearchHitOut, SearchPage
from genloom.system.hot_reads import HotRead

HEADERS = {"Cache-Control": "private, no-cache"}
DEFAULT_LIMIT = 20


def article_body(record: ArticleRecord) -> bytes:
    article = ArticleOut.model_construct(
        id=record.id, title=record.title, status=record.status, author_id=record.author_id, version=record.version,
        created_at=record.created_at, updated_at=record.updated_at, published_at=record.published_at,
        deleted_at=record.deleted_at, content=record.content, collaborators=list(record.collaborators))
    return ArticleOut.__pydantic_serializer__.to_json(article, by_alias=True)


def article_reply(record: ArticleRecord | None, article_id: str, if_none_match: str | None) -> Response:
    """The article with its ETag (304 when ``If-None-Match`` matches); ArticleNotFound for None."""
    if record is None:
        raise ArticleNotFound(f"article {article_id} not found", field="id")
    headers = {**HEADERS, "ETag": etag_for(record)}
    if if_none_match and etag_matches(if_none_match, headers["ETag"], weak=True):
        return Response(status_code=304, headers=headers)
    return Response(article_body(record), media_type="application/json", headers=headers)


async def article_response(runtime: Runtime, caller: Principal, article_id: str,
                           if_none_match: str | None) -> Response:
    async with runtime.db.reader.connect() as conn:
        record = await read_visible(conn, caller, article_id)
    return article_reply(record, article_id, if_none_match)


async def search_response(runtime: Runtime, caller: Principal, q: str, *, limit: int, cursor: str | None,
                          conn: AsyncConnection | None = None) -> Response:
    offset = decode_offset_cursor(cursor) if cursor else 0
    if conn is None:
        async with runtime.db.reader.connect() as own:
            hits, more = await search_articles(own, caller, q, offset=offset, limit=limit)
    else:
        hits, more = await search_articles(conn, caller, q, offset=offset, limit=limit)
    page = SearchPage.model_construct(
        items=[SearchHitOut.model_construct(id=h.id, title=h.title, snippet=h.snippet, score=h.score,
                                            status=h.status, updated_at=h.updated_at) for h in hits],
        next_cursor=encode_offset_cursor(offset + len(hits)) if more else None)
    return Response(SearchPage.__pydantic_serializer__.to_json(page, by_alias=True), media_type="application/json",
                    headers=HEADERS)


async def _hot_article(request: Request, article_id: str) -> Response:
    if not is_uuid(article_id):
        raise ArticleNotFound(field="id")
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.db.reader.connect() as conn:  # one connection for the token check and the read
            record = await read_visible(conn, await caller_of(request, "genflow", conn=conn), article_id)
    except SQLAlchemyError as exc:
        raise Unavailable("database error") from exc
    return article_reply(record, article_id, request.headers.get("if-none-match"))


def _limit(raw: str | None) -> int:
    # only what the route's own validation surely accepts: anything else is the route's to refuse
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        raise InvalidInput("limit", field="limit")
    return int(raw)


async def _hot_search(request: Request, _id: str) -> Response:
    params = request.query_params
    q = params.get("q")
    if q is None or not 1 <= len(q) <= MAX_QUERY_CHARS:
        raise InvalidInput("q", field="q")
    runtime: Runtime = request.app.state.runtime
    limit = _limit(params.get("limit"))
    try:
        async with runtime.db.reader.connect() as conn:
            return await search_response(runtime, await caller_of(request, "genflow", conn=conn), q, limit=limit,
                                         cursor=params.get("cursor"), conn=conn)
    except SQLAlchemyError as exc:
        raise Unavailable("database error") from exc


#: search first: ``/articles/search`` also has the shape of ``/articles/{article_id}``
HOT_READS = (HotRead("/articles/search", _hot_search, exact=True),
             HotRead("/articles/", _hot_article, param="article_id"))
