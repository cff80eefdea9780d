"""Article search: one service, two engines, the caller's visibility applied inside the query.

    SQLite      FTS5 external-content table ``article_search_fts``; rank = -bm25 with the title weighted 10×
    PostgreSQL  ``article_search.tsv`` (title A, body B) with a GIN index; rank = ts_rank, A weighted 10× B

Words in the title therefore rank above words in the body. Results are paged by position (the rank order of
one query is stable), with an opaque cursor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, bindparam, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from genloom.articles.access import readable_clause
from genloom.articles.models import Article
from genloom.core.errors import InvalidInput
from genloom.core.principal import Principal
from genloom.search.models import ArticleSearchDoc
from genloom.search.snippets import hit_pattern, snippet
from genloom.search.text import QueryGroup, fts5_query, query_groups, ready, tsquery

MAX_LIMIT = 50
MAX_QUERY_CHARS = 200
#: bm25 column weights (title, body) and ts_rank weights {D, C, B, A}
FTS5_WEIGHTS = (10.0, 1.0)
TS_RANK_WEIGHTS = "{0.1, 0.1, 0.1, 1.0}"

_fts = table("article_search_fts")


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    title: str
    snippet: str
    score: float
    status: str
    updated_at: datetime


def _check(q: str, limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if not q.strip() or len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q must be 1-{MAX_QUERY_CHARS} characters", field="q", code="invalid_query")


def _columns(score: Any) -> Select[Any]:
    return select(Article.id, Article.title, Article.content, Article.status, Article.updated_at,
                  score.label("score"))


def _sqlite_stmt(groups: list[QueryGroup]) -> Select[Any]:
    score = literal_column(f"-bm25(article_search_fts, {FTS5_WEIGHTS[0]}, {FTS5_WEIGHTS[1]})", Float)
    return (_columns(score)
            .select_from(_fts.join(ArticleSearchDoc, literal_column("article_search_fts.rowid") == ArticleSearchDoc.id)
                         .join(Article, Article.id == ArticleSearchDoc.article_id))
            .where(text("article_search_fts MATCH :match").bindparams(match=fts5_query(groups))))


def _postgres_stmt(groups: list[QueryGroup]) -> Select[Any]:
    query = func.to_tsquery(literal_column("'simple'"), bindparam("tsq", tsquery(groups)))
    tsv: ColumnElement[Any] = literal_column("article_search.tsv")
    score = func.ts_rank(literal_column(f"'{TS_RANK_WEIGHTS}'::float4[]"), tsv, query, 1, type_=Float)
    return (_columns(score)
            .select_from(ArticleSearchDoc.__table__.join(Article, Article.id == ArticleSearchDoc.article_id))
            .where(tsv.op("@@")(query)))


def _dialect(db: AsyncSession | AsyncConnection) -> str:
    if isinstance(db, AsyncConnection):
        return db.dialect.name
    return db.bind.dialect.name if db.bind is not None else "sqlite"


async def search_articles(db: AsyncSession | AsyncConnection, principal: Principal, q: str, *, offset: int = 0,
                          limit: int = 20) -> tuple[list[SearchHit], bool]:
    """One page of ranked hits the caller may read, and whether more follow (on a session or a Core
    connection: the hot route uses a bare reader connection)."""
    _check(q, limit)
    # a short query is segmented in microseconds: a thread hop would cost more (until jieba has loaded)
    groups = query_groups(q) if ready() else await asyncio.to_thread(query_groups, q)
    if not groups:  # punctuation or symbols only: nothing can match, as a search engine answers it
        return [], False
    dialect = _dialect(db)
    stmt = _sqlite_stmt(groups) if dialect == "sqlite" else _postgres_stmt(groups)
    stmt = stmt.where(Article.deleted_at.is_(None))
    clause = readable_clause(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    stmt = stmt.order_by(literal_column("score").desc(), Article.id.desc()).offset(offset).limit(limit + 1)
    rows = (await db.execute(stmt)).all()
    pattern = hit_pattern(groups)
    hits = [SearchHit(id=r.id, title=r.title, snippet=snippet(r.content, pattern), score=round(float(r.score), 6),
                      status=r.status, updated_at=r.updated_at) for r in rows[:limit]]
    return hits, len(rows) > limit
