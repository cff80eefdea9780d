"""Sharing an article: the author (or an admin) invites users to edit it and removes them again."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.articles import service
from genloom.articles.errors import CollaboratorNotFound, InvalidCollaborator
from genloom.articles.models import Article, ArticleCollaborator
from genloom.core.db import utc_now
from genloom.core.ids import is_uuid
from genloom.core.principal import Principal
from genloom.identity.models import User


async def collaborator_ids(session: AsyncSession, article_id: str) -> list[str]:
    rows = await session.execute(select(ArticleCollaborator.user_id).where(ArticleCollaborator.article_id == article_id)
                                 .order_by(ArticleCollaborator.added_at, ArticleCollaborator.user_id))
    return list(rows.scalars().all())


async def add_collaborator(session: AsyncSession, principal: Principal, article_id: str, user_id: str) -> Article:
    """Invite ``user_id`` (idempotent: inviting twice changes nothing)."""
    article = await service.writable(session, principal, article_id, manage=True)
    if user_id == article.author_id:
        raise InvalidCollaborator(field="userId")
    user = await session.get(User, user_id) if is_uuid(user_id) else None
    if user is None or not user.is_active:
        raise CollaboratorNotFound(f"user {user_id} not found", field="userId")
    if not await service.is_collaborator(session, article_id, user_id):
        session.add(ArticleCollaborator(article_id=article_id, user_id=user_id, added_at=utc_now()))
        service.touch(article)
        await session.flush()
    return article


async def remove_collaborator(session: AsyncSession, principal: Principal, article_id: str, user_id: str) -> Article:
    """Withdraw an invitation (removing someone not invited changes nothing)."""
    article = await service.writable(session, principal, article_id, manage=True)
    result = await session.execute(delete(ArticleCollaborator).where(
        ArticleCollaborator.article_id == article_id, ArticleCollaborator.user_id == user_id))
    if getattr(result, "rowcount", 0):
        service.touch(article)
        await session.flush()
    return article
