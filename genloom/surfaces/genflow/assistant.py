"""GenFlow's writing assistant: ``/assistant/sessions…`` (history, streamed replies with resume and cancel),
``/assistant/analyze``, ``/assistant/complete`` and ``/assistant/usage``. Replies stream as SSE when the client
asks for ``text/event-stream``, else the whole reply comes back as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.articles import service as articles
from genloom.articles.errors import ArticleNotFound
from genloom.assistant import limits, service, tokens, turns, writing
from genloom.assistant.errors import ProviderUnavailable
from genloom.assistant.generation import AssistantDeps, model_of, writer_for
from genloom.assistant.streams import KEEPALIVE, ReplyStreams, StreamEvent
from genloom.core.errors import InvalidInput
from genloom.core.http import problem_title
from genloom.core.paging import CURSOR_PATTERN, LAST_EVENT_ID_SCHEMA, MAX_DB_INT, OFFSET_CURSOR_PATTERN
from genloom.core.principal import Principal
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import GenflowCaller
from genloom.providers.local.writer import LocalWriterProvider
from genloom.runtime import Runtime
from genloom.surfaces.genflow.assistant_schemas import (
    ANALYZE_EXAMPLE,
    MESSAGE_EXAMPLE,
    SESSION_EXAMPLE,
    SSE_ERROR_EXAMPLE,
    SSE_EXAMPLE,
    USAGE_EXAMPLE,
    USER_MESSAGE_EXAMPLE,
    AnalyzeRequest,
    CompleteRequest,
    MessageCreate,
    SessionCreate,
    message_dict,
    session_dict,
)

router = APIRouter(prefix="/assistant", tags=["Assistant"])
#: SSE comment lines keep proxies from closing a quiet stream
KEEPALIVE_SECONDS = 15.0

_DEPS: weakref.WeakKeyDictionary[Runtime, AssistantDeps] = weakref.WeakKeyDictionary()


async def read_article(session: AsyncSession, principal: Principal, article_id: str) -> tuple[str, str] | None:
    """The assistant's view of an article: its title and latest text, if the caller may read it."""
    try:
        article = await articles.get_visible(session, principal, article_id)
    except ArticleNotFound:
        return None
    return article.title, article.content


def assistant_of(runtime: Runtime) -> AssistantDeps:
    """This process's assistant (live replies, provider), made on first use and closed by :func:`lifespan`."""
    deps = _DEPS.get(runtime)
    if deps is None:
        fallback = LocalWriterProvider() if runtime.settings.assistant_fallback == "local" else None
        deps = _DEPS[runtime] = AssistantDeps(db=runtime.db, settings=runtime.settings, text=runtime.providers.text,
                                             streams=ReplyStreams(), articles=read_article, fallback=fallback)
    return deps


@contextlib.asynccontextmanager
async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
    """The tokenizer is loaded at start-up (not by the first reply); on shutdown, replies still running are
    stopped and stored as ``incomplete``."""
    await asyncio.to_thread(tokens.preload, model_of(writer_for(assistant_of(runtime).text)))
    try:
        yield
    finally:
        deps = _DEPS.pop(runtime, None)
        if deps is not None:
            await deps.streams.close()


def _problem(code: str, status: int, message: str, field: str | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"type": f"https://genloom.dev/errors/{code}", "title": problem_title(status, code),
                               "status": status,
                               "code": code, "message": message, "detail": message, "instance": "/assistant/…"}
    if field:
        example["field"] = field
    return {"description": message, "content": {"application/problem+json": {"example": example}}}


AUTH_401: dict[int | str, dict[str, Any]] = {401: _problem("not_authenticated", 401, "Sign in: send a Bearer access token.")}
SESSION_404: dict[int | str, dict[str, Any]] = {**AUTH_401, 404: _problem("session_not_found", 404, "No such assistant session.", "sessionId")}
MESSAGE_404: dict[int | str, dict[str, Any]] = {**AUTH_401, 404: _problem("message_not_found", 404, "No such message in this session.", "messageId")}
LIMITED_429: dict[int | str, dict[str, Any]] = {429: _problem("rate_limited", 429, "assistant requests per minute used up; retry in 12 s")}
INVALID_400: dict[int | str, dict[str, Any]] = {**AUTH_401, 400: _problem("validation_error", 400, "content: String should have at least 1 character", "content")}
UNAVAILABLE_503: dict[int | str, dict[str, Any]] = {503: _problem("provider_unavailable", 503, "the text provider is unavailable: openai: HTTP 503")}


#: what EventSource sends back on reconnect: the reply offset of the last event seen (an SSE ``id:``)
LastEventId = Annotated[str | None, Header(
    alias="Last-Event-ID", description="Sent by EventSource on reconnect: the reply offset of the last event seen",
    json_schema_extra=LAST_EVENT_ID_SCHEMA)]


def _sse(event: StreamEvent) -> str:
    if event is KEEPALIVE:
        return ": keep-alive\n\n"
    head = f"event: {event.event}\n" + (f"id: {event.id}\n" if event.id is not None else "")
    return head + f"data: {json.dumps(event.data, ensure_ascii=False)}\n\n"


async def _sse_body(first: list[StreamEvent], events: AsyncIterator[StreamEvent]) -> AsyncIterator[str]:
    """The stream: ``first`` events, then ``events`` (keep-alives included), each written as it comes. Leaving
    (client gone) ends only this generator: the reply itself runs on in its own task."""
    for event in first:
        yield _sse(event)
    async for event in events:
        yield _sse(event)


def _streaming(first: list[StreamEvent], events: AsyncIterator[StreamEvent],
               headers: dict[str, str] | None = None) -> StreamingResponse:
    return StreamingResponse(_sse_body(first, events), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})})


def _wants_sse(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "")


@router.post("/sessions", status_code=201, summary="Start an assistant session",
             responses={201: {"content": {"application/json": {"example": SESSION_EXAMPLE}}}, **AUTH_401,
                        **INVALID_400, 404: _problem("article_not_found", 404, "No such article, or you may not "
                                                                                "read it.", "articleId")})
async def create_session(body: SessionCreate, runtime: RuntimeDep, session: SessionDep,
                         caller: GenflowCaller) -> dict[str, Any]:
    chat = await service.create_session(assistant_of(runtime), session, caller, article_id=body.article_id,
                                        system=body.system, title=body.title)
    return session_dict(chat)


@router.get("/sessions", summary="Your assistant sessions, newest first",
            responses={200: {"content": {"application/json": {"example": {"items": [SESSION_EXAMPLE],
                                                                          "nextCursor": None}}}}, **INVALID_400})
async def list_sessions(session: ReadSessionDep, caller: GenflowCaller,
                        cursor: Annotated[str | None, Query(max_length=200, json_schema_extra={
                            "pattern": CURSOR_PATTERN, "example": "MDE5M2EwYzQtOGY3ZS03YzIxLTlhNTUtMmI2ZjBkMWU0YzEx"})] = None,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    rows, next_cursor = await service.list_sessions(session, caller, cursor=cursor, limit=limit)
    return {"items": [session_dict(r) for r in rows], "nextCursor": next_cursor}


@router.get("/sessions/{session_id}", summary="One assistant session",
            responses={200: {"content": {"application/json": {"example": SESSION_EXAMPLE}}}, **SESSION_404})
async def get_session(session_id: str, session: ReadSessionDep, caller: GenflowCaller) -> dict[str, Any]:
    return session_dict(await service.get_session(session, caller, session_id))


@router.delete("/sessions/{session_id}", status_code=204, summary="Delete a session and its history",
               responses=SESSION_404)
async def delete_session(session_id: str, runtime: RuntimeDep, session: SessionDep, caller: GenflowCaller) -> Response:
    await service.delete_session(assistant_of(runtime), session, caller, session_id)
    return Response(status_code=204)


@router.get("/sessions/{session_id}/messages", summary="The conversation, oldest first (paged)",
            responses={200: {"content": {"application/json": {"example": {
                "items": [USER_MESSAGE_EXAMPLE, MESSAGE_EXAMPLE], "nextCursor": None}}}}, **SESSION_404,
                **INVALID_400})
async def list_messages(session_id: str, session: ReadSessionDep, caller: GenflowCaller,
                        cursor: Annotated[str | None, Query(max_length=200, json_schema_extra={
                            "pattern": OFFSET_CURSOR_PATTERN, "example": "cDoy"})] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    rows, next_cursor = await service.list_messages(session, caller, session_id, cursor=cursor, limit=limit)
    return {"items": [message_dict(r) for r in rows], "nextCursor": next_cursor}


@router.post("/sessions/{session_id}/messages", status_code=201, summary="Send a message; the reply streams (SSE)",
             description="With `Accept: text/event-stream` the reply streams: `start`, one `token` per piece "
                         "(its `id` is the reply's length so far, for `Last-Event-ID`), then `done` or `error`. "
                         "Otherwise the finished reply comes back as JSON. The reply runs to the end even if "
                         "the client disconnects; only `…/cancel` stops it.",
             responses={201: {"content": {
                 "text/event-stream": {"example": SSE_EXAMPLE},
                 "application/json": {"example": {"userMessage": USER_MESSAGE_EXAMPLE, "message": MESSAGE_EXAMPLE}}},
                 "headers": {"X-Message-Id": {"description": "the reply's message id",
                                              "schema": {"type": "string"}}}},
                 200: {"description": "the stream that ended in an error",
                       "content": {"text/event-stream": {"example": SSE_ERROR_EXAMPLE}}},
                 **SESSION_404, **LIMITED_429, **INVALID_400, **UNAVAILABLE_503})
async def post_message(session_id: str, body: MessageCreate, runtime: RuntimeDep, caller: GenflowCaller,
                       accept: Annotated[str | None, Header()] = None) -> Response:
    deps = assistant_of(runtime)
    turn = await turns.start_turn(deps, caller, session_id, body.content)
    return await _turn_response(deps, caller, turn, sse=_wants_sse(accept), status_code=201)


async def _turn_response(deps: AssistantDeps, caller: Principal, turn: turns.Turn, *, sse: bool,
                         status_code: int) -> Response:
    """The reply streamed (``start``, tokens, ``done``) or, once it is stored, as JSON."""
    session_id = turn.reply.session_id
    headers = {"X-Message-Id": turn.reply.id, "X-Session-Id": session_id}
    if sse:
        start = StreamEvent("start", {"messageId": turn.reply.id, "userMessageId": turn.user.id,
                                      "sessionId": session_id})
        response = _streaming([start], turn.live.follow(0, keepalive=KEEPALIVE_SECONDS), headers)
        response.status_code = status_code
        return response
    if turn.live.task is not None:
        await asyncio.shield(turn.live.task)  # a client that leaves does not stop the reply
    async with deps.db.read_session() as s:
        reply = await service.get_message(s, caller, session_id, turn.reply.id)
    if reply.status == "failed" and reply.error_code == "provider_unavailable":
        raise ProviderUnavailable(reply.error_message, retry_after=5.0)
    return JSONResponse({"userMessage": message_dict(turn.user), "message": message_dict(reply)},
                        status_code=status_code, headers=headers)


@router.get("/sessions/{session_id}/messages/{message_id}", summary="One message as stored",
            responses={200: {"content": {"application/json": {"example": MESSAGE_EXAMPLE}}}, **MESSAGE_404})
async def get_message(session_id: str, message_id: str, session: ReadSessionDep,
                      caller: GenflowCaller) -> dict[str, Any]:
    return message_dict(await service.get_message(session, caller, session_id, message_id))


@router.get("/sessions/{session_id}/messages/{message_id}/stream", summary="Follow a reply (resume with Last-Event-ID)",
            description="Replays the reply after the character offset in `Last-Event-ID` (or `?after=`) and "
                        "continues live while it is still being written, from any API process.",
            responses={200: {"content": {"text/event-stream": {"example": SSE_EXAMPLE.split("\n\n", 2)[2]}}},
                       **MESSAGE_404, 400: _problem("invalid_input", 400, "Last-Event-ID must be a reply offset sent "
                                                                         "as an SSE id", "Last-Event-ID")})
async def stream_message(session_id: str, message_id: str, runtime: RuntimeDep, caller: GenflowCaller,
                         last_event_id: LastEventId = None,
                         after: Annotated[int | None, Query(ge=0, le=MAX_DB_INT)] = None) -> StreamingResponse:
    offset = after or 0
    if last_event_id:
        if not last_event_id.strip().isdigit() or int(last_event_id.strip()) > MAX_DB_INT:
            raise InvalidInput("Last-Event-ID must be a reply offset sent as an SSE id", field="Last-Event-ID")
        offset = int(last_event_id.strip())
    events = service.follow(assistant_of(runtime), caller, session_id, message_id, offset,
                            keepalive=KEEPALIVE_SECONDS)
    first = await anext(events)  # raises 404 before the response starts
    return _streaming([first], events)


@router.post("/sessions/{session_id}/messages/{message_id}/cancel", summary="Stop a reply",
             description="Stops the provider call; the reply is stored as far as it got, `status: incomplete`.",
             responses={200: {"content": {"application/json": {"example": {
                 **MESSAGE_EXAMPLE, "status": "incomplete", "finishReason": "canceled"}}}}, **MESSAGE_404,
                 409: _problem("reply_finished", 409, "The reply has already finished.", "messageId")})
async def cancel_message(session_id: str, message_id: str, runtime: RuntimeDep, caller: GenflowCaller) -> dict[str, Any]:
    deps = assistant_of(runtime)
    await service.cancel(deps, caller, session_id, message_id)
    async with deps.db.read_session() as s:
        return message_dict(await service.get_message(s, caller, session_id, message_id))


@router.post("/analyze", summary="Summary, keywords, readability and suggestions for a text",
             responses={200: {"content": {"application/json": {"example": ANALYZE_EXAMPLE}}}, **INVALID_400,
                        **LIMITED_429, **UNAVAILABLE_503})
async def analyze(body: AnalyzeRequest, runtime: RuntimeDep, caller: GenflowCaller) -> dict[str, Any]:
    return await writing.analyze(assistant_of(runtime), caller, body.content)


@router.post("/complete", summary="Stream a continuation or rewrite at a cursor of an article (SSE)",
             description="A stored turn: the instruction and the reply go into `sessionId` (a session of this "
                         "article or of none) or else into your completions session of the article, made on "
                         "first use. It streams like a message reply (`start` carries `sessionId` and "
                         "`messageId`; resume with `…/messages/{messageId}/stream`, stop with `…/cancel`), and "
                         "runs to the end if the client disconnects. `Accept: application/json` (without "
                         "`text/event-stream`) answers with the stored reply instead.",
             responses={200: {"content": {"text/event-stream": {"example": SSE_EXAMPLE},
                                          "application/json": {"example": {"userMessage": {
                                              **USER_MESSAGE_EXAMPLE, "content": "续写下一段"},
                                              "message": MESSAGE_EXAMPLE}}},
                              "headers": {"X-Message-Id": {"description": "the reply's message id",
                                                           "schema": {"type": "string"}},
                                          "X-Session-Id": {"description": "the session it is stored in",
                                                           "schema": {"type": "string"}}}},
                        **INVALID_400, **LIMITED_429, **UNAVAILABLE_503,
                        404: _problem("article_not_found", 404, "No such article, or you may not read it.",
                                      "articleId")})
async def complete(body: CompleteRequest, runtime: RuntimeDep, caller: GenflowCaller,
                   accept: Annotated[str | None, Header()] = None) -> Response:
    deps = assistant_of(runtime)
    turn = await turns.start_completion(deps, caller, article_id=body.article_id, cursor=body.cursor,
                                        instruction=body.instruction, session_id=body.session_id)
    sse = _wants_sse(accept) or "application/json" not in (accept or "")
    return await _turn_response(deps, caller, turn, sse=sse, status_code=200)


@router.get("/usage", summary="Your assistant usage: calls and tokens by kind",
            responses={200: {"content": {"application/json": {"example": USAGE_EXAMPLE}}}, **AUTH_401})
async def usage(session: ReadSessionDep, caller: GenflowCaller) -> dict[str, Any]:
    return await limits.totals(session, caller.owner_id)


def error_matches(request: Request) -> bool:
    return request.url.path.startswith("/assistant")
