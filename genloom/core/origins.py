"""Which web pages may open a WebSocket to us: the defence against cross-site WebSocket hijacking.

Browsers apply CORS to ``fetch`` and ``EventSource`` but not to ``new WebSocket(…)``: any page on any site can
open a socket to genloom, with the visitor's cookies, and read what it sends. The browser does send the page's
``Origin`` with the handshake, so :class:`WebSocketOriginGuard` (one ASGI middleware in front of every route, so
every WebSocket route present or future gets it) checks it against the same allow-list as CORS
(``GENLOOM_CORS_ORIGINS``):

- an Origin in the list (or a list containing ``*``) is allowed;
- a same-origin page is allowed: the Origin's host and port are the ``Host`` the handshake was sent to, or
  ``GENLOOM_PUBLIC_BASE_URL``'s (the console served by genloom itself, a reverse proxy that keeps ``Host``);
- no Origin at all is what non-browser clients send (Python, Node, mobile apps): allowed unless
  ``GENLOOM_WS_REQUIRE_ORIGIN=true``;
- anything else, ``Origin: null`` (sandboxed frames, ``file://`` pages) included, is refused before the socket is
  accepted: the ASGI server answers the handshake with HTTP 403 and the route never runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("genloom.http")

#: the close code sent in place of an accept (servers turn a close before accept into a 403 handshake answer)
ORIGIN_REFUSED_CODE = 4403
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _host_port(netloc: str, scheme: str) -> str:
    """``host:port`` in lower case, the scheme's default port made explicit (``Example.com`` → ``example.com:80``)."""
    netloc = netloc.strip().lower().rpartition("@")[2]
    if netloc.startswith("["):  # IPv6 literal
        host, _, rest = netloc.partition("]")
        return f"{host}]:{rest[1:] or _DEFAULT_PORTS.get(scheme, '')}"
    host, _, port = netloc.partition(":")
    return f"{host}:{port or _DEFAULT_PORTS.get(scheme, '')}"


def normalise_origin(origin: str) -> str:
    """``scheme://host:port`` in lower case, or "" for something that is not an http(s) origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    scheme = parts.scheme.lower()
    return f"{scheme}://{_host_port(parts.netloc, scheme)}"


class OriginPolicy:
    """The allow-list decision, apart from ASGI so it can be tested and reused (one instance per app)."""

    def __init__(self, allow_origins: Iterable[str], *, public_base_url: str = "", require_origin: bool = False) -> None:
        listed = [o.strip() for o in allow_origins if o.strip()]
        self.allow_any = "*" in listed
        self.allowed = {n for n in (normalise_origin(o) for o in listed) if n}
        public = normalise_origin(public_base_url) if public_base_url else ""
        if public:
            self.allowed.add(public)
        self.require_origin = require_origin

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a handshake with this ``Origin`` header, sent to ``Host``, may proceed."""
        if origin is None:
            return not self.require_origin
        if self.allow_any:
            return True
        wanted = normalise_origin(origin)
        if not wanted:
            return False  # "null", or not an http(s) origin at all
        if wanted in self.allowed:
            return True
        # same origin: the page came from the host:port this socket was opened to. Only host and port are
        # compared: behind a TLS-terminating proxy an https page's socket reaches us as plain ws.
        page_scheme, _, page_host = wanted.partition("://")
        return bool(host) and page_host == _host_port(host or "", page_scheme)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class WebSocketOriginGuard:
    """ASGI middleware: refuse WebSocket handshakes whose ``Origin`` the :class:`OriginPolicy` does not allow.

    HTTP requests pass untouched (CORS handles those)."""

    def __init__(self, app: ASGIApp, *, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if self.policy.allows(origin, _header(scope, b"host")):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": ORIGIN_REFUSED_CODE, "reason": "origin not allowed"})
        # the origin is a scheme and a host, never user text; the path without its query
        log.warning("ws.origin_refused path=%s origin=%s", scope.get("path", ""),
                    (origin or "-")[:200] if origin is not None else "(none)")
