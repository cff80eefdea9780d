"""GenFlow collaborative editing: ``WS /ws/articles/{id}?token=<JWT>`` speaks the Yjs sync and awareness
protocols, so a standard client joins unchanged::

    new WebsocketProvider("ws://host/ws/articles", articleId, doc, {params: {token}})

Editors (author, collaborators, admins) write; readers of a published article join read-only; a missing or
bad token is closed with 4401, an article the caller may not read with 4403. ``GET /articles/{id}/presence``
lists who is connected. :func:`after_rest_save` is the hook the articles routes call after a REST save.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocketDisconnect, WebSocketState

from genloom.articles import service as articles
from genloom.articles.errors import ArticleNotFound
from genloom.articles.models import Article
from genloom.collab.manager import Access, CollabManager
from genloom.core.errors import GenloomError
from genloom.core.ids import is_uuid
from genloom.core.principal import Principal
from genloom.core.settings import AuthMode
from genloom.deps import ReadSessionDep, RuntimeDep
from genloom.identity.deps import GenflowCaller, resolve
from genloom.runtime import Runtime

router = APIRouter(tags=["Collaboration"])
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_TOO_BIG = 4401, 4403, 1009
COLLAB_MESSAGE = "collaborative edit"

_MANAGERS: weakref.WeakKeyDictionary[Runtime, CollabManager] = weakref.WeakKeyDictionary()


class ArticleDocuments:
    """The collab :class:`~genloom.collab.manager.Backend` over the articles service."""

    def __init__(self, runtime: Runtime) -> None:
        self.db = runtime.db

    async def load(self, doc_id: str) -> tuple[str, str, int] | None:
        async with self.db.read_session() as s:
            article = await s.get(Article, doc_id)
            if article is None or article.deleted_at is not None:
                return None
            return article.title, article.content, article.version

    async def access(self, principal: Principal, doc_id: str) -> Access:
        async with self.db.read_session() as s:
            try:
                article = await articles.get_visible(s, principal, doc_id)
            except ArticleNotFound:
                return None
            rights = await articles.access(s, principal, article)
        return "write" if rights.write else "read" if rights.read else None

    async def save(self, doc_id: str, principal: Principal, title: str | None, content: str) -> int:
        async with self.db.session() as s:
            article = await articles.save_version(s, principal, doc_id, content=content, title=title,
                                                  message=COLLAB_MESSAGE, require_precondition=False)
            return article.version


def collab_of(runtime: Runtime) -> CollabManager:
    manager = _MANAGERS.get(runtime)
    if manager is None:
        manager = _MANAGERS[runtime] = CollabManager(runtime.db, runtime.settings, ArticleDocuments(runtime),
                                                       runtime.signals)
    return manager


@contextlib.asynccontextmanager
async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
    """Rooms live with the app; on shutdown pending edits are stored and unsaved text becomes a version."""
    manager = collab_of(runtime)
    await manager.start()
    # (the process's start-up heap is frozen out of the collector by the app's lifespan: full collections walked
    # it for 35 to 105 ms of CPU each, a pause every editor saw as update latency)
    try:
        yield
    finally:
        _MANAGERS.pop(runtime, None)
        await manager.close()


async def after_rest_save(runtime: Runtime, article_id: str, *, base_title: str, base_content: str, title: str,
                          content: str, version: int) -> None:
    """Apply a REST save to the article's collaborative document, if it has one."""
    await collab_of(runtime).article_saved(article_id, base_title=base_title, base_content=base_content,
                                           title=title, content=content, version=version)


_PENDING: set[asyncio.Task[None]] = set()


async def track_rest_save(session: AsyncSession, runtime: Runtime, article_id: str,
                          save: Awaitable[Article]) -> Article:
    """Run a REST save (``save``: the articles service call) and, once its transaction commits, apply the
    change to the open collaborative document, so neither side loses edits. The articles routes wrap their
    saving calls in this (one line each)."""
    # columns, not the entity: a loaded Article would be reused stale by the save's SELECT … FOR UPDATE
    row = (await session.execute(select(Article.title, Article.content, Article.version)
                                 .where(Article.id == article_id))).first() if is_uuid(article_id) else None
    base = (row.title, row.content, row.version) if row is not None else None
    article = await save
    if base is None or article.version == base[2]:
        return article
    saved = (article.title, article.content, article.version)

    def _after_commit(_session: object) -> None:
        task = asyncio.get_running_loop().create_task(after_rest_save(
            runtime, article_id, base_title=base[0], base_content=base[1], title=saved[0], content=saved[1],
            version=saved[2]))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    event.listen(session.sync_session, "after_commit", _after_commit, once=True)
    return article


async def _frames(websocket: WebSocket, limit: int) -> AsyncIterator[bytes]:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            continue  # y-websocket sends binary frames only; text is ignored
        if len(data) > limit:
            await websocket.close(CLOSE_TOO_BIG, "frame too large")
            return
        yield data


@router.websocket("/ws/articles/{article_id}")
async def collab_socket(websocket: WebSocket, article_id: str) -> None:
    runtime: Runtime = websocket.app.state.runtime
    q = websocket.query_params
    token = q.get("token") or q.get("access_token")
    header = websocket.headers.get("authorization", "")
    if not token and header.lower().startswith("bearer "):
        token = header[7:].strip()
    await websocket.accept()
    try:
        principal = await resolve(runtime, AuthMode.user, token=token, client_id=None)
    except GenloomError as exc:
        await websocket.close(CLOSE_UNAUTHORIZED, exc.code)
        return
    manager = collab_of(runtime)
    access = await manager.backend.access(principal, article_id)
    if access is None:
        await websocket.close(CLOSE_FORBIDDEN, "forbidden")
        return
    try:
        await manager.serve(websocket, _frames(websocket, runtime.settings.collab_max_frame_bytes), principal,
                            article_id, writable=access == "write")
    except WebSocketDisconnect:
        pass
    finally:
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


PRESENCE_EXAMPLE = {"articleId": "0193a0c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                    "editors": [{"userId": "0193a0b0-0000-7000-8000-000000000001", "username": "alice",
                                 "connections": 1, "readOnly": False}],
                    "states": [{"clientId": 3349821705, "userId": "0193a0b0-0000-7000-8000-000000000001",
                                "username": "alice", "name": "Alice", "color": "#e91e63",
                                "cursor": {"anchor": 120, "head": 120}, "readOnly": False, "local": True}],
                    "saveError": None}


@router.get("/articles/{article_id}/presence", summary="Who is editing the article now",
            description="Editors connected to this API process and the awareness states (name, colour, cursor) "
                        "of everyone in the document, including those relayed from other processes. `saveError` "
                        "is set while the document cannot become an article version (`content_too_large`: the "
                        "text is over 1 MiB); the edits are kept, and a version is saved once edits bring it back "
                        "under the limit.",
            responses={200: {"content": {"application/json": {"example": PRESENCE_EXAMPLE}}},
                       401: {"description": "Sign in: send a Bearer access token.",
                             "content": {"application/problem+json": {"example": {
                                 "type": "https://genloom.dev/errors/not_authenticated", "status": 401,
                                 "code": "not_authenticated", "message": "sign in", "title": "sign in",
                                 "detail": "sign in", "instance": "/articles/…/presence"}}}},
                       404: {"description": "No such article, or you may not read it.",
                             "content": {"application/problem+json": {"example": {
                                 "type": "https://genloom.dev/errors/article_not_found", "status": 404,
                                 "code": "article_not_found", "message": "article … not found",
                                 "title": "Not found", "detail": "article … not found",
                                 "instance": "/articles/…/presence", "field": "id"}}}}})
async def presence(article_id: str, runtime: RuntimeDep, session: ReadSessionDep,
                   caller: GenflowCaller) -> dict[str, Any]:
    await articles.get_visible(session, caller, article_id)
    return {"articleId": article_id, **collab_of(runtime).presence(article_id)}
