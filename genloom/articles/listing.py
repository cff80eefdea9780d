"""Listing the articles a caller may read: their own and shared ones in any status, everyone's published
ones — filtered inside the query (never after paging), newest first, keyset-paged by id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from genloom.articles.access import STATUSES, is_admin, readable_clause
from genloom.articles.models import Article
from genloom.core.errors import InvalidInput
from genloom.core.ids import is_uuid
from genloom.core.principal import Principal

MAX_LIMIT = 100
#: ``status=deleted`` lists the caller's own soft-deleted articles (everyone's, for an admin), to restore them
DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    #: case-insensitive substring of the title (full-text search is GET /articles/search)
    q: str | None = None
    status: str | None = None
    #: a user id, or "me"
    author: str | None = None
    #: the id of the last article of the previous page
    after_id: str | None = None
    limit: int = 20


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_articles(session: AsyncSession, principal: Principal, query: ArticleQuery) -> tuple[list[Article], bool]:
    """One page (content not loaded) and whether more follow."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if query.status is not None and query.status not in (*STATUSES, DELETED):
        raise InvalidInput(f"status must be one of {', '.join((*STATUSES, DELETED))}", field="status")
    stmt = select(Article).options(defer(Article.content))
    if query.status == DELETED:
        stmt = stmt.where(Article.deleted_at.is_not(None))
        if not is_admin(principal):
            stmt = stmt.where(Article.author_id == (principal.user_id or ""))
    else:
        stmt = stmt.where(Article.deleted_at.is_(None))
        clause = readable_clause(principal)
        if clause is not None:
            stmt = stmt.where(clause)
        if query.status is not None:
            stmt = stmt.where(Article.status == query.status)
    if query.author:
        author = principal.user_id if query.author == "me" else query.author
        if author is None or not is_uuid(author):
            raise InvalidInput("author must be a user id or \"me\"", field="author")
        stmt = stmt.where(Article.author_id == author)
    if query.q:
        stmt = stmt.where(func.lower(Article.title).like(f"%{_escape_like(query.q.lower())}%", escape="\\"))
    if query.after_id is not None:
        stmt = stmt.where(Article.id < query.after_id)
    rows = list((await session.execute(stmt.order_by(Article.id.desc()).limit(query.limit + 1))).scalars().all())
    return rows[:query.limit], len(rows) > query.limit
