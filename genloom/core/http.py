"""HTTP glue shared by every surface: error rendering and the small helpers routes use.

Native routes answer errors as RFC 9457 ``application/problem+json`` with a stable ``code``. A surface whose
app expects another error shape registers a renderer for its paths (:func:`register_error_renderer`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genloom.core.errors import GenloomError, InvalidInput, Unavailable
from genloom.core.outage import is_database_unavailable

log = logging.getLogger("genloom.http")

Renderer = Callable[[Request, GenloomError], Response]
Matcher = Callable[[Request], bool]

_STATUS_CODES = {
    400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large",
    415: "unsupported_media_type", 416: "range_not_satisfiable", 422: "invalid_input", 428: "precondition_required",
    429: "rate_limited", 500: "internal_error", 502: "upstream_failed", 503: "unavailable",
}


class ErrorRenderers:
    def __init__(self) -> None:
        self._items: list[tuple[Matcher, Renderer]] = []

    def add(self, matcher: Matcher, renderer: Renderer) -> None:
        self._items.append((matcher, renderer))

    def render(self, request: Request, err: GenloomError) -> Response:
        for matcher, renderer in self._items:
            if matcher(request):
                response = renderer(request, err)
                # Every surface's 429/503 says when to come back, whatever its body looks like.
                for name, value in (_headers_for(err) or {}).items():
                    response.headers.setdefault(name, value)
                return response
        return problem_response(request, err)


#: problem+json ``title``: the short class of the problem, the same for every error of one status (RFC 9457);
#: what went wrong this time is in ``detail``
_TITLES = {
    400: "Bad request", 401: "Authentication required", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 412: "Precondition failed",
    413: "Payload too large", 415: "Unsupported media type", 416: "Range not satisfiable", 422: "Validation failed",
    428: "Precondition required", 429: "Too many requests", 500: "Internal error", 502: "Provider failed",
    503: "Service unavailable", 504: "Provider timed out",
}
_CODE_TITLES = {"validation_error": "Validation failed", "invalid_input": "Validation failed",
                "unknown_kind": "Validation failed", "invalid_json": "Malformed request body"}
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "code", "message", "detail", "instance", "field"})


def problem_title(status: int, code: str) -> str:
    """The ``title`` of a problem: "Validation failed", "Not found", … (documentation examples use it too)."""
    if code in _CODE_TITLES:
        return _CODE_TITLES[code]
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(request: Request, err: GenloomError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://genloom.dev/errors/{err.code}",
        "title": problem_title(err.status, err.code),
        "status": err.status,
        "code": err.code,
        "message": err.message,  # the same text as detail, for clients written against {code, message}
        "detail": err.message,
        "instance": request.url.path,
    }
    if err.field is not None:
        body["field"] = err.field
    # extension members (RFC 9457 §3.2): what a client can act on, e.g. valid_kinds, errors, currentVersion
    for name, value in (err.details or {}).items():
        if name not in _PROBLEM_MEMBERS:
            body[name] = value
    headers = _headers_for(err)
    return JSONResponse(body, status_code=err.status, media_type="application/problem+json", headers=headers)


def _headers_for(err: GenloomError) -> dict[str, str] | None:
    if err.retry_after is not None and err.status in (429, 503):
        return {"Retry-After": str(max(1, int(err.retry_after)))}
    return None


def validation_to_error(exc: RequestValidationError) -> InvalidInput:
    """Turn pydantic's error list into one InvalidInput naming the first field at fault."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":  # the body as a whole, not a field: pydantic's loc is (body, offset)
        ctx = first.get("ctx")
        reason = str(ctx.get("error") or "").strip() if isinstance(ctx, dict) else ""
        message = "the request body is not valid JSON" + (f" ({reason})" if reason else "")
        return InvalidInput(message, field=None, code="invalid_json")
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    message = f"{field}: {msg}" if field else msg
    err = InvalidInput(message, field=field, code="validation_error")
    err.details = {"errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors[:20]]}
    return err


def install_error_handlers(app: FastAPI, renderers: ErrorRenderers) -> None:
    async def on_genloom(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GenloomError)
        if exc.status >= 500:
            log.warning("request.failed code=%s status=%s", exc.code, exc.status)
        return renderers.render(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return renderers.render(request, validation_to_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        err = GenloomError(str(exc.detail), code=code, status=exc.status_code)
        response = renderers.render(request, err)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):
            log.warning("request.dependency_down path=%s error=%s", request.url.path, type(exc).__name__)
            return renderers.render(request, Unavailable("the database or queue is unavailable; try again shortly",
                                                         code="queue_unavailable", retry_after=5))
        log.exception("request.crashed path=%s", request.url.path)
        return renderers.render(request, GenloomError("internal server error"))

    app.add_exception_handler(GenloomError, on_genloom)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
    # Appended rather than added: innermost, so refusals still pass request logging and CORS. Presigned uploads
    # (PUT /media/…) stream file bytes, which may hold anything: their bodies are neither read nor checked here.
    app.user_middleware.append(Middleware(RejectNulCharacters, renderers=renderers,
                                          skip_body=path_startswith("/media/")))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's 405 names only the first route whose path
    matched, but a path is often served by several routes (GET and POST /nodes are two)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    by_path: dict[str, set[str]] = {}
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match is not Match.NONE and route.methods and route.path:
            by_path.setdefault(route.path, set()).update(route.methods)
    if not by_path:
        return []
    # /tasks/generate also matches /tasks/{task_id}: the most literal path is the resource being asked about
    return sorted(by_path[min(by_path, key=lambda path: (path.count("{"), -len(path)))])


# --- NUL characters ---------------------------------------------------------------------------------------

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RejectNulCharacters:
    """Refuse U+0000 in the path, the query or a JSON or form body with a 400 naming the field.

    PostgreSQL text and jsonb cannot hold U+0000 (the driver raises mid-request, which would be a 500) and no
    field of any surface means it, so it is refused before any route runs, the same on every database.
    """

    def __init__(self, app: ASGIApp, renderers: ErrorRenderers, skip_body: Matcher | None = None) -> None:
        self.app = app
        self.renderers = renderers
        self.skip_body = skip_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _nul_in_url(scope)
        media = _body_media(scope) if scope["method"] in _BODY_METHODS else None
        if media is not None and self.skip_body is not None and self.skip_body(Request(scope)):
            media = None
        if field is None and media is not None:
            messages = await _read_body(receive)
            receive = _replay(messages, receive)
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            field = _nul_in_json(body) if media == "json" else _nul_in_form(body)
        if field is None:
            await self.app(scope, receive, send)
            return
        # a NUL in a property name is reported on the object that holds it (`body` at the top level)
        in_name = field.endswith(_IN_NAME)
        field = field.removesuffix(_IN_NAME)
        what = "property names must not contain" if in_name else "must not contain"
        err = InvalidInput(f"{field}: {what} NUL (\\u0000) characters", field=field, code="invalid_characters")
        await self.renderers.render(Request(scope), err)(scope, receive, send)


#: appended to the field by the readers below when the NUL is in a property name rather than in a value
_IN_NAME = "\x00name"


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    return _nul_in_form(scope.get("query_string", b""), whole="query")


def _nul_in_form(raw: bytes, *, whole: str = "body") -> str | None:
    """The first url-encoded key whose name or value holds NUL (``whole`` when the name itself does)."""
    if b"%00" not in raw and b"\x00" not in raw:
        return None
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key if "\x00" not in key else whole + _IN_NAME
    return None


def _body_media(scope: Scope) -> str | None:
    """"json" or "form" for a body this guard reads; None for anything else (uploads stream through)."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return "json"
            return "form" if media == b"application/x-www-form-urlencoded" else None
    return "json"  # FastAPI parses a body without Content-Type as JSON too


async def _read_body(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _nul_in_json(body: bytes) -> str | None:
    if b"\\u0000" not in body:  # cheap pre-check; most bodies never parse twice
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None  # the route answers invalid JSON in its own way
    return _nul_path(doc, [])


def _nul_path(value: Any, path: list[str]) -> str | None:
    if isinstance(value, str):
        return (".".join(path) or "body") if "\x00" in value else None
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (".".join(path) or "body") + _IN_NAME
        found = _nul_path(item, [*path, str(key)])
        if found is not None:
            return found
    return None


def is_unavailable(exc: BaseException) -> bool:
    """A dependency (database, Redis) is down, as opposed to a bug: answered 503 with Retry-After."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return is_database_unavailable(exc) or isinstance(exc, RedisConnectionError | RedisTimeout)


def path_startswith(*prefixes: str) -> Matcher:
    def match(request: Request) -> bool:
        path = request.url.path
        return any(path == p.rstrip("/") or path.startswith(p) for p in prefixes)

    return match
