"""The HTTP layer every remote client shares: an ``httpx.AsyncClient`` factory with the configured timeouts, and
:func:`call` / :func:`stream`, which run one request through the provider's guard (breaker, concurrency
limit, retries, call log) and turn error answers into classified :class:`ProviderError` s.

Providers differ in how they spell an error body; each passes an ``error_parser`` that pulls ``(code,
message)`` out of a response (:func:`openai_error`, :func:`native_error`, or :func:`any_error`, which tries
both).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from genloom.core.settings import Settings
from genloom.providers.base import ProviderError
from genloom.providers.resilience import Attempt, ProviderGuard, classify, parse_retry_after

ErrorParser = Callable[[httpx.Response], tuple[str | None, str | None]]

USER_AGENT = "genloom"


def make_client(
    settings: Settings,
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    read_timeout: float | None = None,
    connect_timeout: float | None = None,
    max_connections: int | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with connect/read timeouts from settings; redirects are never followed silently."""
    read = read_timeout if read_timeout is not None else settings.provider_read_timeout
    connect = connect_timeout if connect_timeout is not None else settings.provider_connect_timeout
    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect + read)
    limits = httpx.Limits(max_connections=max_connections or max(4, settings.provider_concurrency * 2))
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    # trust_env=False: a developer's HTTP(S)_PROXY must not silently reroute provider traffic (or the fakes).
    return httpx.AsyncClient(base_url=base_url, headers=all_headers, timeout=timeout, limits=limits,
                             follow_redirects=False, trust_env=False)


# --- error bodies ------------------------------------------------------------------------------------------


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def openai_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """``{"error": {"code", "type", "message"}}`` (OpenAI, Ark, DashScope compatible mode)."""
    body = _body(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code") or err.get("type")
        return (str(code) if code else None), (str(err.get("message")) if err.get("message") else None)
    return None, None


def native_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """``{"code", "message"}`` at the top level (DashScope native API and many others)."""
    body = _body(response)
    if isinstance(body, dict) and ("code" in body or "message" in body):
        code, message = body.get("code"), body.get("message") or body.get("msg")
        return (str(code) if code not in (None, "") else None), (str(message) if message else None)
    return None, None


def any_error(response: httpx.Response) -> tuple[str | None, str | None]:
    code, message = openai_error(response)
    if code or message:
        return code, message
    return native_error(response)


def error_for(provider: str, response: httpx.Response, parse_error: ErrorParser = any_error) -> ProviderError:
    code, message = parse_error(response)
    if message is None and not code:
        message = response.reason_phrase or None
    return classify(provider, response.status_code, code=code, message=message,
                    retry_after=parse_retry_after(response.headers))


def parse_json(provider: str, response: httpx.Response) -> Any:
    """The JSON body, or a retryable ``provider_bad_response`` error (a truncated or garbled answer)."""
    try:
        return jsonlib.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(f"{provider}: the response was not valid JSON", provider=provider,
                            status=response.status_code, code="provider_bad_response", retryable=True) from None


# --- calls -------------------------------------------------------------------------------------------------


async def call(
    guard: ProviderGuard,
    client: httpx.AsyncClient,
    operation: str,
    method: str,
    url: str,
    *,
    idempotent: bool = True,
    parse_error: ErrorParser = any_error,
    expect_json: bool = True,
    ok: Callable[[httpx.Response], bool] | None = None,
    **request: Any,
) -> Any:
    """One request through the guard; returns the parsed JSON (or the response when ``expect_json=False``).

    ``request`` goes to ``client.request`` (json=, data=, files=, params=, headers=, timeout=).
    """
    provider = guard.provider

    async def attempt(at: Attempt) -> Any:
        response = await client.request(method, url, **request)
        at.status = response.status_code
        good = ok(response) if ok is not None else response.is_success
        if not good:
            raise error_for(provider, response, parse_error)
        return parse_json(provider, response) if expect_json else response

    return await guard.run(operation, attempt, idempotent=idempotent)


@asynccontextmanager
async def stream(
    guard: ProviderGuard,
    client: httpx.AsyncClient,
    operation: str,
    method: str,
    url: str,
    *,
    idempotent: bool = True,
    parse_error: ErrorParser = any_error,
    **request: Any,
) -> AsyncIterator[httpx.Response]:
    """Open a streamed response through the guard; retries happen only before the first byte is read."""
    provider = guard.provider

    async def attempt(at: Attempt) -> httpx.Response:
        req = client.build_request(method, url, **request)
        response = await client.send(req, stream=True)
        at.status = response.status_code
        if not response.is_success:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise error_for(provider, response, parse_error)
        return response

    response = await guard.run(operation, attempt, idempotent=idempotent)
    try:
        yield response
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise ProviderError(f"{provider}: the stream broke ({type(exc).__name__})", provider=provider,
                            code="provider_stream_broken", retryable=True) from None
    finally:
        await response.aclose()


async def iter_sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data:`` payloads of a server-sent event stream (multi-line data joined with newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)
