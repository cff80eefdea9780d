"""Logging for every genloom process: one configuration call, request ids, redaction, a request log.

* :func:`configure_logging` sets the root logger from settings (text or one JSON object per line, optional
  rotating file). Calling it again replaces what it installed before and nothing else.
* :class:`RequestLogMiddleware` is a pure ASGI middleware (no ``BaseHTTPMiddleware``: that one costs a task
  and a memory stream per request). It binds the request id that every log record carries, echoes it as
  ``X-Request-ID`` and writes one ``http.request …`` line per request.
* :class:`RedactFilter` scrubs bearer tokens, ``sk-…`` keys and ``key=value`` secrets from every message, so
  a careless ``log.info("%s", headers)`` cannot leak a credential, and cuts the query values of every URL in it
  to names (numbers kept): a query can carry user text. ``httpx``/``httpcore``, which log each request URL at
  INFO, are kept at WARNING.

Log lines are dotted event names followed by ``key=value`` pairs: ``jobs.claimed job_id=… kind=…``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from genloom.core.settings import Settings

#: The current request's id; "-" outside a request.
request_id_var: ContextVar[str] = ContextVar("genloom_request_id", default="-")

REQUEST_ID_HEADER = "x-request-id"
#: A client-sent id is reused only if it looks like an id (no newlines or markup smuggled into logs).
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
#: Query parameters whose values never reach a log line.
SECRET_PARAMS = frozenset({"sig", "signature", "token", "key", "api_key", "apikey", "access_token", "refresh_token",
                           "password", "secret", "x-amz-signature", "x-amz-credential", "x-amz-security-token"})
_MARK = "_genloom_handler"  # set on the handlers configure_logging installs, so a second call can find them

# Secrets that may appear in free text. Order matters: the key=value rule runs last so that
# "Authorization: Bearer x" is handled by the bearer rule first.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 [REDACTED]"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), "sk-[REDACTED]"),
    # password hashes (a database driver's DEBUG log prints the parameters of "UPDATE users SET password_hash=?")
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s'\"]+"), "[REDACTED-HASH]"),
    # the password in a URL's user info: postgresql://user:pw@host, redis://:pw@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)[^\s/@]+@"), r"\1[REDACTED]@"),
    (
        # no \b before the name: client_secret=, db_password=, x_api_key= are secrets too
        re.compile(
            r"(?i)(?<![A-Za-z0-9])(api[_-]?key|access[_-]?token|refresh[_-]?token|token|password|passwd|secret|sig"
            r"|signature|x-amz-signature|x-amz-credential|x-amz-security-token)"
            r"([\"']?\s*[=:]\s*[\"']?)([^\s&\"',;}]+)"
        ),
        r"\1\2[REDACTED]",
    ),
)
#: literal secret values (API keys, passwords from settings) that have no recognisable shape, see register_secrets
_known_secrets: tuple[str, ...] = ()
MIN_SECRET_LENGTH = 8  # shorter values would blank out ordinary words


def secret_values(settings: Settings) -> tuple[str, ...]:
    """The values of ``settings``' secret fields (those hidden from its repr), longest first."""
    fields = getattr(type(settings), "model_fields", {})
    values = {str(getattr(settings, name, "") or "") for name, info in fields.items() if info.repr is False}
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def register_secrets(values: Any) -> None:
    """Also redact these exact values everywhere (configure_logging registers the configured keys)."""
    global _known_secrets
    merged = set(_known_secrets) | {str(v) for v in values if v and len(str(v)) >= MIN_SECRET_LENGTH}
    _known_secrets = tuple(sorted(merged, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace obvious secrets, the registered secret values and ``secrets`` in ``text`` with ``[REDACTED]``."""
    for value in (*secrets, *_known_secrets):
        if value in text:
            text = text.replace(value, "[REDACTED]")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


#: query values kept as they are in logs: numbers (ids, cursors, sizes, expiry times), never user text
_PLAIN_VALUE = re.compile(r"^-?[0-9][0-9.]{0,30}$")
#: an absolute URL with a query string, anywhere in a log message (httpx's "HTTP Request: GET http://…/view?…")
_URL_WITH_QUERY = re.compile(r"(?i)\b((?:https?|wss?)://[^\s?#\"'<>]+)\?([^\s#\"'<>]*)")
#: libraries that log every request URL at INFO: kept at WARNING whatever the root level (their URLs carry
#: signatures and user text, such as file names a ComfyUI template derives from the prompt)
QUIET_LOGGERS = ("httpx", "httpcore")


def redact_query(query: str) -> str:
    """A query string fit for a log: secret parameters ``[REDACTED]``, other values ``…`` unless they are plain
    numbers (``sig=…&w=3&q=my+diary`` → ``sig=[REDACTED]&w=3&q=…``); parameter names are kept."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and name.lower() in SECRET_PARAMS:
            parts.append(f"{name}=[REDACTED]")
        elif sep and value and not _PLAIN_VALUE.match(value):
            parts.append(f"{name}=…")
        else:
            parts.append(part)
    return "&".join(parts)


def redact_url_queries(text: str) -> str:
    """``text`` with the query of every absolute URL in it passed through :func:`redact_query`."""
    return _URL_WITH_QUERY.sub(lambda m: f"{m.group(1)}?{redact_query(m.group(2))}", text)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the bound request id or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RedactFilter(logging.Filter):
    """Rewrites each record's message with secrets removed (message, arguments and exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        cleaned = redact_url_queries(redact(message))
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


#: attributes every LogRecord has; anything else on a record came from ``extra=`` and is emitted as a field
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, UTF-8 text kept as is (``ensure_ascii=False``); ``extra=`` fields included."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in payload and not key.startswith("_"):
                payload[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def _formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def _utf8_stderr() -> Any:
    # A server whose locale is C/POSIX would otherwise print Chinese prompts as "\u4e2d" escapes or fail.
    stream = sys.stderr
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    reconfigure = getattr(stream, "reconfigure", None)
    if encoding and encoding != "utf8" and reconfigure is not None:
        try:
            reconfigure(encoding="utf-8", errors="backslashreplace")
        except (ValueError, OSError):  # a stream that already has output buffered
            pass
    return stream


def configure_logging(settings: Settings) -> None:
    """Configure the root logger from ``settings`` (log_level, log_format, log_file…); safe to call again.

    Handlers installed by an earlier call are removed and closed; handlers others installed (pytest's
    capture, uvicorn's) are left alone.
    """
    unconfigure_logging()
    register_secrets(secret_values(settings))
    root = logging.getLogger()
    fmt = str(getattr(settings, "log_format", "text"))
    handlers: list[logging.Handler] = [logging.StreamHandler(_utf8_stderr())]
    log_file = getattr(settings, "log_file", None)
    if log_file:
        from pathlib import Path

        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path,
                maxBytes=int(getattr(settings, "log_file_max_bytes", 10 * 1024 * 1024)),
                backupCount=int(getattr(settings, "log_file_backups", 5)),
                encoding="utf-8",
            )
        )
    for handler in handlers:
        setattr(handler, _MARK, True)
        # Filters sit on handlers, not loggers: a logger's filters do not see records from its children.
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactFilter())
        handler.setFormatter(_formatter(fmt))
        root.addHandler(handler)
    root.setLevel(str(getattr(settings, "log_level", "INFO")).upper())
    # uvicorn's own access log would duplicate http.request lines (and print raw query strings).
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def unconfigure_logging() -> None:
    """Remove the handlers :func:`configure_logging` installed (tests, embedding genloom in another app)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()


# --- request middleware -------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestObserver(Protocol):
    """Called once per finished HTTP request (metrics use it)."""

    def __call__(self, method: str, route: str, status: int, duration_s: float) -> None: ...


access_log = logging.getLogger("genloom.http")
#: paths whose successful requests are logged at DEBUG only
QUIET_PATHS = frozenset({"/health", "/healthz", "/metrics"})


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/jobs/{job_id}``), or "unmatched" (keeps label sets small)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return "unmatched"


def _observers(scope: Scope) -> list[RequestObserver]:
    # The app keeps its observers (``app.state.request_observers``, filled by the app assembly) so that each
    # app, and each test's app, has its own.
    state = getattr(scope.get("app"), "state", None)
    observers: list[RequestObserver] = getattr(state, "request_observers", None) or []
    return observers


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Binds a request id, returns it as ``X-Request-ID`` and logs one line per HTTP request or WebSocket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500 if kind == "http" else 101
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "websocket.close" and status == 101:
                status = 1000 if message.get("code") is None else int(message["code"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            try:
                self._record(scope, kind, status, duration, request_id)
            finally:
                request_id_var.reset(token)

    @staticmethod
    def _record(scope: Scope, kind: str, status: int, duration: float, request_id: str) -> None:
        method = scope.get("method", "WS") if kind == "http" else "WS"
        path = scope.get("path", "")
        # Probes and scrapes arrive every few seconds from every load balancer: DEBUG unless they fail.
        level = logging.DEBUG if path in QUIET_PATHS and status < 400 else logging.INFO
        if access_log.isEnabledFor(level):
            query = scope.get("query_string", b"")
            if query:
                path = f"{path}?{redact_query(query.decode('latin-1'))}"
            event = "http.request" if kind == "http" else "ws.session"
            access_log.log(
                level, "%s method=%s path=%s status=%d duration_ms=%.1f request_id=%s",
                event, method, path, status, duration * 1000.0, request_id,
            )
        if kind == "http":
            observers = _observers(scope)
            if observers:
                route = route_template(scope)
                for observe in observers:
                    try:
                        observe(method, route, status, duration)
                    except Exception:  # metrics must never break a response
                        access_log.exception("http.observer_failed route=%s", route)
