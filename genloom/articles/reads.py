"""The article read of ``GET /articles/{id}``: ONE Core statement on a reader connection, no ORM session.

The statement returns the article's columns and its collaborators (a correlated aggregate, in invitation
order), which is everything the visibility rule needs: the caller is a collaborator exactly when their id is
in that list. So the read is one round trip whoever asks, where the ORM path took up to three (article,
collaborator check, collaborator list).

    record = await read_visible(conn, principal, article_id)   # None: unknown, deleted, or not readable
    record.collaborators, etag_for(record)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from genloom.articles.access import PUBLISHED, access_for
from genloom.articles.models import Article
from genloom.core.ids import is_uuid
from genloom.core.principal import Principal

articles_t = Article.__table__

#: user ids are UUIDs (no commas), so a comma-joined aggregate is exact on both engines. SQLite before 3.44
#: has no ORDER BY inside an aggregate: it aggregates an ordered derived table instead.
_COLLABORATORS = {
    "sqlite": "(SELECT group_concat(user_id, ',') FROM (SELECT user_id FROM article_collaborators "
              "WHERE article_id = articles.id ORDER BY added_at, user_id))",
    "postgresql": "(SELECT string_agg(user_id, ',' ORDER BY added_at, user_id) FROM article_collaborators "
                  "WHERE article_id = articles.id)",
}
_COLUMNS = ("id", "title", "content", "status", "author_id", "version", "created_at", "updated_at",
            "published_at", "deleted_at")
_READ_ONE = {
    dialect: select(*(articles_t.c[name] for name in _COLUMNS),
                    literal_column(sql, String).label("collaborators"))
    .where(articles_t.c.id == bindparam("article_id"))
    for dialect, sql in _COLLABORATORS.items()
}


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """An article as read, with its collaborators (the attributes :class:`Article` has, read-only)."""

    id: str
    title: str
    content: str
    status: str
    author_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    deleted_at: datetime | None
    collaborators: tuple[str, ...]


def _record(row: Any) -> ArticleRecord:
    collaborators = tuple(row.collaborators.split(",")) if row.collaborators else ()
    return ArticleRecord(id=row.id, title=row.title, content=row.content, status=row.status,
                         author_id=row.author_id, version=row.version, created_at=row.created_at,
                         updated_at=row.updated_at, published_at=row.published_at, deleted_at=row.deleted_at,
                         collaborators=collaborators)


async def read_article(conn: AsyncConnection, article_id: str) -> ArticleRecord | None:
    """The article and its collaborators, deleted or not, whoever may see it; None for an unknown id."""
    if not is_uuid(article_id):
        return None
    stmt = _READ_ONE["sqlite" if conn.dialect.name == "sqlite" else "postgresql"]
    row = (await conn.execute(stmt, {"article_id": article_id})).first()
    return _record(row) if row is not None else None


def visible(principal: Principal, record: ArticleRecord) -> bool:
    """The rule of :func:`genloom.articles.service.get_visible`: live, and published or readable by the caller."""
    if record.deleted_at is not None:
        return False
    if record.status == PUBLISHED:
        return True
    invited = principal.user_id is not None and principal.user_id in record.collaborators
    return access_for(principal, record, collaborator=invited).read


async def read_visible(conn: AsyncConnection, principal: Principal, article_id: str) -> ArticleRecord | None:
    """The live article if ``principal`` may read it, else None (unknown, deleted and hidden alike)."""
    record = await read_article(conn, article_id)
    return record if record is not None and visible(principal, record) else None
