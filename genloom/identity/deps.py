"""Who is calling: FastAPI dependencies that resolve the :class:`Principal` of a request or WebSocket.

Each surface has an auth mode (settings ``auth_mode_<surface>``, env ``GENLOOM_AUTH_MODE_<SURFACE>``):

    open    anyone; a Bearer token or X-Client-Id, when sent, still identifies the caller
    client  an X-Client-Id (or a signed-in user) is required
    user    a signed-in user (Bearer access token) is required

A token that is sent must be valid in every mode (a bad token is a 401, never a silent "anonymous").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.exceptions import WebSocketException
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from genloom.core.errors import GenloomError
from genloom.core.principal import ANONYMOUS, Principal
from genloom.core.settings import AuthMode, Settings
from genloom.identity import auth, clients
from genloom.identity.errors import ClientIdRequired, NotAuthenticated
from genloom.runtime import Runtime

SURFACES = ("native", "studio", "cinemind", "huaban", "genflow")
WS_POLICY_VIOLATION = 1008

#: Both schemes appear in the OpenAPI document, so its "Authorize" button can sign in (password flow against
#: /auth/login) or set a client id. auto_error=False: the auth mode, not the scheme, decides what is required.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False, scheme_name="Bearer")
client_id_scheme = APIKeyHeader(name="X-Client-Id", auto_error=False, scheme_name="ClientId",
                                description="Anonymous client id: 8-64 characters of A-Z, a-z, 0-9, '_' and '-'")


def auth_mode(settings: Settings, surface: str) -> AuthMode:
    mode: AuthMode = getattr(settings, f"auth_mode_{surface}")
    return mode


def _seen(runtime: Runtime) -> dict[str, float]:
    return runtime.clients_seen


async def resolve(
    runtime: Runtime,
    mode: AuthMode,
    *,
    token: str | None,
    client_id: str | None,
    user_agent: str | None = None,
    conn: AsyncConnection | None = None,
) -> Principal:
    """The caller given what they sent, under ``mode``. Raises an Unauthorized subclass when not allowed.
    ``conn``: a reader connection to check a token on (see :func:`genloom.identity.auth.principal_for_access`).

    A malformed X-Client-Id is refused even beside a Bearer token (which then decides who is calling)."""
    if client_id:
        clients.check_client_id(client_id)
    if token:
        return await auth.principal_for_access(runtime.db, runtime.settings, token, conn=conn)
    if client_id is not None and client_id != "":
        if mode is AuthMode.user:
            raise NotAuthenticated()
        checked = clients.check_client_id(client_id)
        await clients.touch_client(runtime.db, _seen(runtime), checked, user_agent)
        return Principal.for_client(checked)
    if mode is AuthMode.user:
        raise NotAuthenticated()
    if mode is AuthMode.client:
        raise ClientIdRequired()
    return ANONYMOUS


def _mode_getter(surface: str | None, fixed: AuthMode | None) -> Callable[[Settings], AuthMode]:
    if fixed is not None:
        return lambda _settings: fixed
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; surfaces are {SURFACES}")
    return lambda settings: auth_mode(settings, surface)


def caller(surface: str, *, require: AuthMode | None = None) -> Callable[..., Awaitable[Principal]]:
    """A dependency resolving the request's Principal by ``surface``'s auth mode (or ``require``, if given)."""
    mode_of = _mode_getter(surface if require is None else None, require)

    async def _caller(
        request: Request,
        token: Annotated[str | None, Depends(oauth2_scheme)],
        client_id: Annotated[str | None, Depends(client_id_scheme)],
    ) -> Principal:
        runtime: Runtime = request.app.state.runtime
        return await resolve(runtime, mode_of(runtime.settings), token=token, client_id=client_id,
                             user_agent=request.headers.get("user-agent"))

    _caller.__name__ = f"caller_{surface}" if require is None else f"caller_{require.value}"
    return _caller


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


async def resolve_request(request: Request, surface: str) -> Principal:
    """The caller of a request resolved without FastAPI's dependency solving (for the hottest routes)."""
    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    return await resolve(runtime, auth_mode(runtime.settings, surface), token=_bearer(headers.get("authorization")),
                         client_id=headers.get("x-client-id"), user_agent=headers.get("user-agent"))


def ws_caller(surface: str, *, require: AuthMode | None = None) -> Callable[[WebSocket], Awaitable[Principal]]:
    """The WebSocket variant. Browsers cannot set headers on a WebSocket, so the token may come as the
    ``token`` (or ``access_token``) query parameter and the client id as ``client_id`` (or ``clientId``);
    headers work too. A refused caller gets close code 1008 (policy violation) before the accept."""
    mode_of = _mode_getter(surface if require is None else None, require)

    async def _ws_caller(websocket: WebSocket) -> Principal:
        runtime: Runtime = websocket.app.state.runtime
        q = websocket.query_params
        token = q.get("token") or q.get("access_token") or _bearer(websocket.headers.get("authorization"))
        client_id = q.get("client_id") or q.get("clientId") or websocket.headers.get("x-client-id")
        try:
            return await resolve(runtime, mode_of(runtime.settings), token=token, client_id=client_id,
                                 user_agent=websocket.headers.get("user-agent"))
        except GenloomError as exc:
            raise WebSocketException(code=WS_POLICY_VIOLATION, reason=f"{exc.code}: {exc.message}"[:120]) from None

    return _ws_caller


#: The signed-in user, whatever the surface (``/users/me`` and friends).
current_user = caller("native", require=AuthMode.user)
#: Whoever is calling, identified if they sent credentials (``/auth/register``: an admin may register others).
optional_caller = caller("native", require=AuthMode.open)

CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalCaller = Annotated[Principal, Depends(optional_caller)]

#: Typed aliases for route signatures (mypy accepts these as types, unlike a call's result).
NativeCaller = Annotated[Principal, Depends(caller("native"))]
StudioCaller = Annotated[Principal, Depends(caller("studio"))]
CinemindCaller = Annotated[Principal, Depends(caller("cinemind"))]
HuabanCaller = Annotated[Principal, Depends(caller("huaban"))]
GenflowCaller = Annotated[Principal, Depends(caller("genflow"))]
#: the same for WebSockets (a token or client id may also come as ``?token=`` / ``?client_id=``)
NativeWsCaller = Annotated[Principal, Depends(ws_caller("native"))]
CinemindWsCaller = Annotated[Principal, Depends(ws_caller("cinemind"))]
HuabanWsCaller = Annotated[Principal, Depends(ws_caller("huaban"))]
GenflowWsCaller = Annotated[Principal, Depends(ws_caller("genflow"))]


async def caller_of(request: Request, surface: str, *, conn: AsyncConnection | None = None) -> Principal:
    """The caller, resolved without FastAPI's dependency machinery: for the hot status-polling routes, where
    solving the dependency graph would cost more than serving the answer. ``conn``: the reader connection the
    route reads on next, to check a token on it too."""
    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return await resolve(
        runtime, auth_mode(runtime.settings, surface),
        token=token.strip() or None if scheme.lower() == "bearer" else None,
        client_id=headers.get("x-client-id"), user_agent=headers.get("user-agent"), conn=conn,
    )
