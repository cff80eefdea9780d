"""HuaBan's error shape: ``{"error": {"code", "message", "field"}}`` with the status of the error (and
``Retry-After`` on 429/503)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from genloom.core.errors import GenloomError
from genloom.core.http import path_startswith
from genloom.surfaces.huaban.schemas import ErrorResponse

#: the paths of the HuaBan API (``/media/commit`` and ``/media/upload`` only: other ``/media/…`` paths are files)
PREFIXES = ("/init", "/gallery", "/upload/", "/artworks", "/generation/", "/ai/", "/grow/", "/images")
EXACT = frozenset({"/media/commit", "/media/upload"})
_prefixed = path_startswith(*PREFIXES)


#: the error body as the OpenAPI document declares it (``ErrorShape.schema``; its title names it in components)
ERROR_SCHEMA: dict[str, Any] = {
    "title": "HuabanError",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "field"], "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string", "description": "for people"},
        "field": {"type": ["string", "null"], "description": "the request field at fault, or null"}}}},
    "example": {"error": {"code": "artwork_not_found", "message": "Artwork not found.", "field": "id"}},
}


def matches(request: Request) -> bool:
    return request.url.path in EXACT or _prefixed(request)


def render_error(request: Request, err: GenloomError) -> Response:
    headers = None
    if err.retry_after is not None and err.status in (429, 503):
        headers = {"Retry-After": str(max(1, int(err.retry_after)))}
    body = {"error": {"code": err.code, "message": err.message, "field": err.field}}
    return JSONResponse(body, status_code=err.status, headers=headers)


DESCRIPTIONS = {400: "Invalid input", 403: "Origin not allowed", 404: "Not found (also another client's ids)",
                409: "Conflict with the current state", 413: "Too large", 415: "Unsupported media type",
                429: "Rate limited (Retry-After says when to try again)"}


def responses(*pairs: tuple[int, str, str, str | None]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers: (status, code, message, field) each, as the server sends them."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, code, message, field in pairs:
        value = {"error": {"code": code, "message": message, "field": field}}
        entry = out.setdefault(status, {"description": DESCRIPTIONS.get(status, message), "model": ErrorResponse,
                                        "content": {"application/json": {"example": value, "examples": {}}}})
        entry["content"]["application/json"]["examples"][code] = {"summary": message, "value": value}
    return out


CLIENT_ID_ERRORS = (
    (400, "validation_error", "size: Input should be greater than or equal to 1", "size"),
    (400, "client_id_required", "Send an X-Client-Id header.", "X-Client-Id"),
    (400, "client_id_invalid", "X-Client-Id must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'.", "X-Client-Id"),
    (429, "rate_limited", "Too many requests; try again after Retry-After seconds.", None),
)
