"""HuaBan's error shape: ``{"error": {"code", "message", "field"}}`` with the status of the error (and
``Retry-After`` on 429/503)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from genloom.core.errors import GenloomError
from genloom.core.http import path_startswith

#: the paths of the HuaBan API (``/media/commit`` and ``/media/upload`` only: other ``/media/…`` paths are files)
PREFIXES = ("/init", "/gallery", "/upload/", "/artworks", "/generation/", "/ai/", "/grow/", "/images")
EXACT = frozenset({"/media/commit", "/media/upload", "/healthz"})
_prefixed = path_startswith(*PREFIXES)


def matches(request: Request) -> bool:
    return request.url.path in EXACT or _prefixed(request)


def render_error(request: Request, err: GenloomError) -> Response:
    headers = None
    if err.retry_after is not None and err.status in (429, 503):
        headers = {"Retry-After": str(max(1, int(err.retry_after)))}
    body = {"error": {"code": err.code, "message": err.message, "field": err.field}}
    return JSONResponse(body, status_code=err.status, headers=headers)


def responses(*pairs: tuple[int, str, str, str | None]) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for error answers: (status, code, message, field) each, with the real media type."""
    out: dict[int | str, dict[str, object]] = {}
    for status, code, message, field in pairs:
        entry = out.setdefault(status, {"description": message, "model": None, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorResponse"}, "examples": {}}}})
        content = entry["content"]
        assert isinstance(content, dict)
        content["application/json"]["examples"][code] = {
            "summary": message, "value": {"error": {"code": code, "message": message, "field": field}}}
    for entry in out.values():
        entry.pop("model", None)
    return out


CLIENT_ID_ERRORS = (
    (400, "client_id_required", "Send an X-Client-Id header.", "X-Client-Id"),
    (400, "client_id_invalid", "X-Client-Id must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'.", "X-Client-Id"),
    (429, "rate_limited", "Too many requests; try again after Retry-After seconds.", None),
)
