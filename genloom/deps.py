"""FastAPI dependencies shared by routers: the runtime, database sessions, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.settings import Settings
from genloom.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One write session per request: committed when the handler returns, rolled back if it raises."""
    async with get_runtime(request).db.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).db.read_session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def CallerDep(surface: str) -> Any:  # noqa: N802 - reads like a type in signatures
    """``Annotated[Principal, Depends(...)]`` resolving the caller by the surface's auth mode."""
    from genloom.core.principal import ANONYMOUS, Principal

    try:
        from genloom.identity.deps import caller
    except ImportError:

        def caller(_surface: str) -> Any:
            def _anonymous() -> Principal:
                return ANONYMOUS

            return _anonymous

    return Annotated[Principal, Depends(caller(surface))]
