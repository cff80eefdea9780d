"""FastAPI dependencies shared by routers: the runtime, database sessions, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.principal import Principal
from genloom.core.settings import Settings
from genloom.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One write session per request: committed when the handler returns, rolled back if it raises."""
    async with request.app.state.runtime.db.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.db.read_session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def CallerDep(surface: str) -> Any:  # noqa: N802 - reads like a type in signatures
    """``Annotated[Principal, Depends(...)]`` resolving the caller by the surface's auth mode."""
    from genloom.identity.deps import caller

    return Annotated[Principal, Depends(caller(surface))]


async def caller_of(request: Request, surface: str) -> Principal:
    """The caller, resolved without FastAPI's dependency machinery: for the hot status-polling routes, where
    solving the dependency graph would cost more than serving the answer."""
    from genloom.identity.deps import auth_mode, resolve

    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return await resolve(
        runtime, auth_mode(runtime.settings, surface),
        token=token.strip() or None if scheme.lower() == "bearer" else None,
        client_id=headers.get("x-client-id"), user_agent=headers.get("user-agent"),
    )
