"""``genloom reindex articles``: rebuild the article search index."""

from __future__ import annotations

import asyncio

import click

from genloom.clitools import settings_from


@click.group("reindex")
def reindex() -> None:
    """Rebuild a search index."""


@reindex.command("articles")
@click.pass_context
def articles(ctx: click.Context) -> None:
    """Segment every article again and rebuild the full-text index (FTS5 or tsvector)."""
    from genloom.core.db import Database
    from genloom.core.migrate import ensure_schema
    from genloom.search.reindex import reindex_articles

    settings = settings_from(ctx)

    async def go() -> int:
        db = Database(settings)
        try:
            await ensure_schema(db.engine, auto_migrate=settings.db_auto_migrate)
            return await reindex_articles(db)
        finally:
            await db.dispose()

    click.echo(f"reindexed {asyncio.run(go())} articles")


def register(group: click.Group) -> None:
    group.add_command(reindex)
