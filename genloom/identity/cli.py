"""``genloom create-user`` and ``genloom init-users`` (seed 002's ``scripts/init_users``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.clitools import settings_from
from genloom.core.errors import GenloomError
from genloom.core.principal import SYSTEM, Role
from genloom.core.settings import Settings

T = TypeVar("T")


def _settings(ctx: click.Context) -> Settings:
    return settings_from(ctx)


async def _with_db(settings: Settings, fn: Callable[..., Awaitable[T]]) -> T:
    from genloom.core.db import Database
    from genloom.core.migrate import ensure_schema

    db = Database(settings)
    try:
        await ensure_schema(db.engine, auto_migrate=settings.db_auto_migrate)
        async with db.session() as session:
            return await fn(session)
    finally:
        await db.dispose()


def _fail(exc: GenloomError) -> None:
    click.echo(f"genloom: {exc.message}", err=True)
    sys.exit(1)


@click.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the user the admin role too.")
@click.option("--email", default=None, help="Optional email address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def create_user(ctx: click.Context, username: str, admin: bool, email: str | None, password_stdin: bool) -> None:
    """Create a user; prompts for the password (or reads it with --password-stdin)."""
    from genloom.identity import service
    from genloom.identity.schemas import check_email, check_username

    settings = _settings(ctx)
    try:
        username = check_username(username)
        email = check_email(email)
    except ValueError as exc:
        click.echo(f"genloom: {exc}", err=True)
        sys.exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    roles = [Role.admin.value, Role.user.value] if admin else [Role.user.value]

    async def go(session: AsyncSession) -> str:
        user = await service.create_user(session, SYSTEM, username=username, password=password,
                                         email=email, roles=roles, password_min_length=settings.password_min_length)
        return user.id

    try:
        user_id = asyncio.run(_with_db(settings, go))
    except GenloomError as exc:
        _fail(exc)
        return
    click.echo(f"created user {username} ({', '.join(roles)}) id={user_id}")


@click.command("init-users")
@click.pass_context
def init_users(ctx: click.Context) -> None:
    """Create the first administrator from GENLOOM_ADMIN_USERNAME / GENLOOM_ADMIN_PASSWORD when none exists."""
    from genloom.identity import service

    settings = _settings(ctx)

    async def go(session: AsyncSession) -> str | None:
        if await service.admin_exists(session):
            return None
        if not settings.admin_password:
            raise GenloomError("set GENLOOM_ADMIN_PASSWORD to create the first administrator",
                               code="admin_password_missing")
        user = await service.ensure_admin(session, username=settings.admin_username,
                                          password=settings.admin_password, email=settings.admin_email or None,
                                          password_min_length=settings.password_min_length)
        return user.username if user else None

    try:
        created = asyncio.run(_with_db(settings, go))
    except GenloomError as exc:
        _fail(exc)
        return
    if created is None:
        click.echo("an administrator already exists; nothing to do")
    else:
        click.echo(f"created administrator {created}")


def register(group: click.Group) -> None:
    group.add_command(create_user)
    group.add_command(init_users)
