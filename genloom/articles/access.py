"""Who may do what with an article — the one place these rules live.

    author         read in any status, edit, publish/unpublish, delete and restore, share
    collaborator   read in any status, edit (content and title); never publish, delete or share
    admin          everything the author may (``content:manage:any``)
    anyone else    published articles only, read-only (a write is 403); drafts do not exist for them (404)

Deleted articles exist only for their author and admins, and only to be restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, exists, or_, select

from genloom.articles.models import Article, ArticleCollaborator
from genloom.core.principal import Principal

PUBLISHED = "published"
DRAFT = "draft"
STATUSES = (DRAFT, PUBLISHED)


@dataclass(frozen=True, slots=True)
class Access:
    """What one principal may do with one (live) article."""

    read: bool
    write: bool
    #: publish, unpublish, delete, restore, change collaborators
    manage: bool


NO_ACCESS = Access(read=False, write=False, manage=False)


def is_admin(principal: Principal) -> bool:
    return principal.can("content:manage:any")


def sees_all(principal: Principal) -> bool:
    return principal.sees_all("articles")


class Authored(Protocol):
    """What the rules read of an article: an ORM :class:`Article` or a read-only record of one."""

    @property
    def author_id(self) -> str: ...

    @property
    def status(self) -> str: ...


def access_for(principal: Principal, article: Authored, *, collaborator: bool) -> Access:
    """The rules above for a loaded article; ``collaborator``: the principal is invited to it."""
    if is_admin(principal) or (principal.user_id is not None and principal.user_id == article.author_id):
        return Access(read=True, write=True, manage=True)
    if collaborator:
        return Access(read=True, write=True, manage=False)
    readable = article.status == PUBLISHED or sees_all(principal)
    return Access(read=readable, write=False, manage=False)


def collaborates(user_id: str) -> ColumnElement[bool]:
    """SQL: ``user_id`` is invited to the article of the current row."""
    return exists(
        select(ArticleCollaborator.article_id).where(
            ArticleCollaborator.article_id == Article.id, ArticleCollaborator.user_id == user_id
        )
    )


def readable_clause(principal: Principal) -> ColumnElement[bool] | None:
    """SQL WHERE for the live articles ``principal`` may read (None: all of them). Lists and search filter with
    it inside the query, so paging never skips or leaks a row."""
    if sees_all(principal):
        return None
    published: ColumnElement[bool] = Article.status == PUBLISHED
    if principal.user_id is None:
        return published
    return or_(published, Article.author_id == principal.user_id, collaborates(principal.user_id))
