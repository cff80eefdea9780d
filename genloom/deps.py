"""FastAPI dependencies shared by routers: the runtime, database sessions, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.settings import Settings
from genloom.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One write session per request: committed when the handler returns, rolled back if it raises.

    Used through ``SessionDep``, whose ``scope="function"`` makes FastAPI leave this block once the response is
    built and **before** it is sent: a 2xx means committed, and a failed commit reaches the error handlers as the
    route's 5xx (docs/transactions.md)."""
    async with request.app.state.runtime.db.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.db.read_session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
#: the write session: commits before the answer is sent (the default "request" scope would commit after it)
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
