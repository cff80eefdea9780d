"""Article rules: create, read what you may, save a new version under optimistic locking, change title or
status, soft delete and restore. Permission checks live in :mod:`genloom.articles.access`.

The public API other features build on (collaborative editing, the assistant)::

    article = await create_article(session, principal, title=…, content=…)
    article = await get_visible(session, principal, article_id)            # ArticleNotFound if not readable
    rights  = await access(session, principal, article)                    # .read / .write / .manage
    await can_read(session, principal, article_id); await can_write(session, principal, article_id)
    article = await save_version(session, principal, article_id, content=…, message="…",
                                 expected_version=n | None, if_match=etag | None, require_precondition=False)
    versions = await list_versions(session, principal, article_id)         # newest first, without content

Functions take the session first and never commit; the caller's transaction commits the article, its version
and its search index entry together.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from genloom.articles.access import DRAFT, PUBLISHED, STATUSES, Access, access_for, is_admin
from genloom.articles.diff import VersionDiff, diff_versions
from genloom.articles.errors import (
    ArticleNotFound,
    ArticleReadOnly,
    AuthorOnly,
    ContentTooLarge,
    EtagMismatch,
    VersionConflict,
    VersionNotFound,
    VersionRequired,
)
from genloom.articles.models import Article, ArticleCollaborator, ArticleVersion
from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.etags import etag_matches, strong_etag
from genloom.core.ids import is_uuid, new_id
from genloom.core.principal import Principal
from genloom.identity.errors import NotAuthenticated
from genloom.search import index as search_index

MAX_TITLE_CHARS = 200
#: 1 MiB of UTF-8 (the seed's "≤ 1 MB")
MAX_CONTENT_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 200


class Versioned(Protocol):
    """What an ETag is made of: an ORM :class:`Article` or a :class:`~genloom.articles.reads.ArticleRecord`."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def version(self) -> int: ...


def etag_for(article: Versioned) -> str:
    """Changes with every version and every change of status, deletion or sharing (they all move updated_at)."""
    return strong_etag(article.id, article.status, article.updated_at.isoformat(), version=article.version)


def _check_title(title: str) -> str:
    if not 1 <= len(title.strip()) or len(title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"title must be 1-{MAX_TITLE_CHARS} characters", field="title", code="invalid_title")
    return title


def _check_content(content: str) -> str:
    if len(content.encode("utf-8", "surrogatepass")) > MAX_CONTENT_BYTES:
        raise ContentTooLarge(f"content is larger than {MAX_CONTENT_BYTES} bytes of UTF-8", field="content")
    return content


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status", code="invalid_status")
    return status


def touch(article: Article) -> None:
    # strictly later than before, even within one clock tick, so the ETag always moves
    article.updated_at = max(utc_now(), article.updated_at + timedelta(microseconds=1))


async def _append_version(session: AsyncSession, article: Article, author_id: str | None, message: str) -> None:
    session.add(ArticleVersion(article_id=article.id, n=article.version, title=article.title,
                               content=article.content, author_id=author_id,
                               message=message[:MAX_MESSAGE_CHARS], created_at=article.updated_at))
    await search_index.index_article(session, article.id, article.title, article.content)


async def create_article(session: AsyncSession, principal: Principal, *, title: str, content: str,
                         status: str = DRAFT, message: str = "created") -> Article:
    """A new article (version 1) owned by the signed-in caller."""
    if principal.user_id is None:
        raise NotAuthenticated("sign in to write articles")
    now = utc_now()
    article = Article(id=new_id(), author_id=principal.user_id, title=_check_title(title),
                      content=_check_content(content), status=_check_status(status), version=1,
                      created_at=now, updated_at=now, published_at=now if status == PUBLISHED else None)
    session.add(article)
    await session.flush()
    await _append_version(session, article, principal.user_id, message)
    await session.flush()
    return article


async def _load(session: AsyncSession, article_id: str, *, for_update: bool) -> Article | None:
    if not is_uuid(article_id):
        return None
    stmt = select(Article).where(Article.id == article_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_collaborator(session: AsyncSession, article_id: str, user_id: str | None) -> bool:
    if user_id is None:
        return False
    row = await session.execute(select(ArticleCollaborator.user_id).where(
        ArticleCollaborator.article_id == article_id, ArticleCollaborator.user_id == user_id))
    return row.first() is not None


async def access(session: AsyncSession, principal: Principal, article: Article) -> Access:
    """What ``principal`` may do with ``article`` (a deleted article grants nothing but ``manage`` to the author
    and admins, for restoring it)."""
    rights = access_for(principal, article, collaborator=False)
    if not rights.manage:  # the author and admins have every right already: no lookup
        rights = access_for(principal, article,
                            collaborator=await is_collaborator(session, article.id, principal.user_id))
    if article.deleted_at is not None:
        return Access(read=False, write=False, manage=rights.manage and not _is_collab_only(principal, article))
    return rights


def _is_collab_only(principal: Principal, article: Article) -> bool:
    return not (is_admin(principal) or principal.user_id == article.author_id)


async def get_visible(session: AsyncSession, principal: Principal, article_id: str, *,
                      for_update: bool = False) -> Article:
    """The live article if ``principal`` may read it; ArticleNotFound otherwise (unknown, deleted, or another
    user's draft: the answer never says which)."""
    article = await _load(session, article_id, for_update=for_update)
    if article is None or article.deleted_at is not None:
        raise ArticleNotFound(f"article {article_id} not found", field="id")
    # the common cases need no collaborator lookup: published, or the caller's own (or an admin's)
    if article.status == PUBLISHED or access_for(principal, article, collaborator=False).read:
        return article
    if not (await access(session, principal, article)).read:
        raise ArticleNotFound(f"article {article_id} not found", field="id")
    return article


async def can_read(session: AsyncSession, principal: Principal, article_id: str) -> bool:
    try:
        await get_visible(session, principal, article_id)
    except ArticleNotFound:
        return False
    return True


async def can_write(session: AsyncSession, principal: Principal, article_id: str) -> bool:
    article = await _load(session, article_id, for_update=False)
    if article is None or article.deleted_at is not None:
        return False
    return (await access(session, principal, article)).write


async def writable(session: AsyncSession, principal: Principal, article_id: str, *, manage: bool = False) -> Article:
    article = await get_visible(session, principal, article_id, for_update=True)
    rights = await access(session, principal, article)
    if manage and not rights.manage:
        raise (AuthorOnly() if rights.write else ArticleReadOnly())
    if not rights.write:
        raise ArticleReadOnly()
    return article


def check_precondition(article: Article, *, if_match: str | None, expected_version: int | None,
                       required: bool) -> None:
    """If-Match (stale → 412) wins over a body ``version`` (stale → 409); neither, when required → 428."""
    if if_match:
        if not etag_matches(if_match, etag_for(article)):
            raise EtagMismatch(f"If-Match does not match the current ETag {etag_for(article)}", field="If-Match")
    elif expected_version is not None:
        if expected_version != article.version:
            raise VersionConflict(f"version {expected_version} is stale; the current version is {article.version}",
                                  field="version", details={"currentVersion": article.version})
    elif required:
        raise VersionRequired(field="If-Match")


async def save_version(session: AsyncSession, principal: Principal, article_id: str, *,
                       content: str | None = None, title: str | None = None, message: str = "",
                       if_match: str | None = None, expected_version: int | None = None,
                       require_precondition: bool = True, author_id: str | None = None) -> Article:
    """Save a change as the next version. ``author_id`` records who made it (default: the caller). A save that
    changes neither title nor content makes no version and returns the article as it is."""
    article = await writable(session, principal, article_id)
    check_precondition(article, if_match=if_match, expected_version=expected_version, required=require_precondition)
    new_title = article.title if title is None else _check_title(title)
    new_content = article.content if content is None else _check_content(content)
    if new_title == article.title and new_content == article.content:
        return article
    article.title, article.content = new_title, new_content
    article.version += 1
    touch(article)
    await _append_version(session, article, author_id or principal.user_id, message)
    await session.flush()
    return article


async def update_meta(session: AsyncSession, principal: Principal, article_id: str, *, title: str | None = None,
                      status: str | None = None, if_match: str | None = None, message: str = "") -> Article:
    """PATCH: a new title (a version, for editors) and/or a new status (the author's). If-Match when sent."""
    if title is None and status is None:
        raise InvalidInput("send title and/or status to change", field="title")
    article = await writable(session, principal, article_id, manage=status is not None)
    check_precondition(article, if_match=if_match, expected_version=None, required=False)
    if status is not None and _check_status(status) != article.status:
        article.status = status
        if status == PUBLISHED and article.published_at is None:
            article.published_at = utc_now()
        touch(article)
    if title is not None and _check_title(title) != article.title:
        article.title = title
        article.version += 1
        touch(article)
        await _append_version(session, article, principal.user_id, message or "title changed")
    await session.flush()
    return article


async def delete_article(session: AsyncSession, principal: Principal, article_id: str, *,
                         if_match: str | None = None) -> Article:
    """Soft delete (author or admin): reads, lists and search no longer see it; restorable."""
    article = await writable(session, principal, article_id, manage=True)
    check_precondition(article, if_match=if_match, expected_version=None, required=False)
    article.deleted_at = utc_now()
    touch(article)
    await session.flush()
    return article


async def restore_article(session: AsyncSession, principal: Principal, article_id: str) -> Article:
    """Undo a soft delete (author or admin; a live article is returned as it is)."""
    article = await _load(session, article_id, for_update=True)
    if article is None or not (await access(session, principal, article)).manage:
        raise ArticleNotFound(f"article {article_id} not found", field="id")
    if article.deleted_at is not None:
        article.deleted_at = None
        touch(article)
        await session.flush()
    return article


async def list_versions(session: AsyncSession, principal: Principal, article_id: str, *,
                        before: int | None = None, limit: int = 50) -> list[ArticleVersion]:
    """Versions of a readable article, newest first, ``n < before`` when given. Content is not loaded."""
    await get_visible(session, principal, article_id)
    stmt = (select(ArticleVersion).where(ArticleVersion.article_id == article_id)
            .order_by(ArticleVersion.n.desc()).limit(limit))
    if before is not None:
        stmt = stmt.where(ArticleVersion.n < before)
    stmt = stmt.options(defer(ArticleVersion.content))
    return list((await session.execute(stmt)).scalars().all())


async def get_version(session: AsyncSession, principal: Principal, article_id: str, n: int) -> ArticleVersion:
    await get_visible(session, principal, article_id)
    stmt = (select(ArticleVersion).where(ArticleVersion.article_id == article_id, ArticleVersion.n == n)
            .execution_options(populate_existing=True))  # a listed version has its content deferred
    version = (await session.execute(stmt)).scalar_one_or_none()
    if version is None:
        raise VersionNotFound(f"article {article_id} has no version {n}", field="n")
    return version


async def restore_version(session: AsyncSession, principal: Principal, article_id: str, n: int, *,
                          if_match: str | None = None) -> Article:
    """A new version whose title and content equal version ``n`` (If-Match honoured when sent)."""
    old = await get_version(session, principal, article_id, n)
    article = await writable(session, principal, article_id)
    check_precondition(article, if_match=if_match, expected_version=None, required=False)
    article.title, article.content = old.title, old.content
    article.version += 1
    touch(article)
    await _append_version(session, article, principal.user_id, f"restored version {n}")
    await session.flush()
    return article


def article_dict(article: Article, collaborators: list[str] | None = None) -> dict[str, Any]:
    """The fields every surface shows (surfaces rename them)."""
    return {"id": article.id, "title": article.title, "content": article.content, "status": article.status,
            "author_id": article.author_id, "version": article.version, "collaborators": collaborators or [],
            "created_at": article.created_at, "updated_at": article.updated_at,
            "published_at": article.published_at, "deleted_at": article.deleted_at}


async def diff_article(session: AsyncSession, principal: Principal, article_id: str, *, from_n: int | None = None,
                       to_n: int | None = None) -> tuple[int, int, VersionDiff]:
    """The diff between versions ``from_n`` (default: the one before ``to_n``) and ``to_n`` (default: newest)."""
    article = await get_visible(session, principal, article_id)
    to_n = article.version if to_n is None else to_n
    from_n = max(1, to_n - 1) if from_n is None else from_n
    old = await get_version(session, principal, article_id, from_n)
    new = await get_version(session, principal, article_id, to_n)
    diff = await asyncio.to_thread(diff_versions, old.title, old.content, new.title, new.content,
                                   old_label=f"v{from_n}", new_label=f"v{to_n}")
    return from_n, to_n, diff
