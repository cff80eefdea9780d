"""Who is calling HuaBan, and whether they may: the ``X-Client-Id`` rules, the optional Origin/Referer
allow-list, and the per-client rate limit of each route group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader

from genloom.core.errors import Forbidden, InvalidInput, RateLimited
from genloom.core.principal import Principal
from genloom.identity import clients
from genloom.ratelimits.limiter import Rule
from genloom.runtime import Runtime
from genloom.surfaces.huaban.state import state_of

client_id_header = APIKeyHeader(name="X-Client-Id", auto_error=False, scheme_name="ClientId",
                                description="Anonymous client id: 8-64 characters of A-Z, a-z, 0-9, '_' and '-'")
CLIENT_FIELD = "X-Client-Id"
GROUPS = ("presign", "commit", "upload", "generation", "default")


def rules_of(runtime: Runtime) -> dict[str, Rule]:
    return state_of(runtime).rules


def check_origin(request: Request, runtime: Runtime) -> None:
    """Browsers always send Origin (or Referer); a native app sends neither and is let through."""
    allowed = runtime.settings.huaban_allowed_origins
    if not allowed:
        return
    origin = request.headers.get("origin")
    if not origin and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else referer
    if origin and origin.rstrip("/") not in allowed:
        raise Forbidden("this origin may not call the HuaBan API", code="origin_not_allowed", field="Origin")


def parse_client_id(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidInput("send an X-Client-Id header", code="client_id_required", field=CLIENT_FIELD)
    if not clients.CLIENT_ID_RE.match(value.strip()):
        raise InvalidInput("X-Client-Id must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'",
                           code="client_id_invalid", field=CLIENT_FIELD)
    return value.strip()


async def enforce(runtime: Runtime, response: Response, group: str, subject: str) -> None:
    rules = rules_of(runtime)
    rule = rules.get(group) or rules.get("default")
    if rule is None:
        return
    decision = await state_of(runtime).limiter.hit(f"huaban.{group}", subject, rule)
    response.headers["RateLimit-Limit"] = str(decision.limit)
    response.headers["RateLimit-Remaining"] = str(decision.remaining)
    response.headers["RateLimit-Reset"] = str(decision.reset_s)
    if not decision.allowed:
        raise RateLimited(f"at most {rule.limit} requests per {rule.period_s} s for this client; try again in "
                          f"{decision.reset_s} s", retry_after=decision.reset_s)


def client(group: str = "default") -> Callable[..., Awaitable[Principal]]:
    """The caller's Principal (an anonymous client), after the origin check and ``group``'s rate limit."""

    async def _client(request: Request, response: Response,
                      header: Annotated[str | None, Depends(client_id_header)]) -> Principal:
        runtime: Runtime = request.app.state.runtime
        check_origin(request, runtime)
        client_id = parse_client_id(header)
        await enforce(runtime, response, group, client_id)
        await clients.touch_client(runtime.db, runtime.clients_seen, client_id, request.headers.get("user-agent"))
        return Principal.for_client(client_id)

    _client.__name__ = f"huaban_client_{group}"
    return _client


Client = Annotated[Principal, Depends(client())]
PresignClient = Annotated[Principal, Depends(client("presign"))]
CommitClient = Annotated[Principal, Depends(client("commit"))]
UploadClient = Annotated[Principal, Depends(client("upload"))]
GenerationClient = Annotated[Principal, Depends(client("generation"))]
