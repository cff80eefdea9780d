"""cineMind's response envelope ``{"code", "message", "data"}`` and its table of business error codes.

Success: ``code`` 0, ``message`` "ok". Errors keep their HTTP status; ``code`` is the stable business number
below and ``data`` names the machine error string and the field at fault::

    HTTP  code   meaning                         machine codes (data.error)
    400   40001  validation failed               validation_error, invalid_input, invalid_dir, …
    401   40101  authentication required         unauthorized
    403   40301  forbidden                       forbidden
    404   40401  not found                       node_not_found, task_not_found, result_not_found, not_found
    406   40601  not acceptable                  not_acceptable
    409   40901  version conflict                version_conflict
    412   41201  precondition failed (If-Match)  precondition_failed
    413   41301  payload too large               payload_too_large
    428   42801  precondition required           precondition_required
    429   42901  rate limited                    rate_limited
    500   50001  internal error                  internal_error
    502   50201  upstream (AI provider) failed   upstream_failed, provider_error, …
    503   50301  unavailable                     unavailable, queue_unavailable, provider_unavailable
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from genloom.core.errors import GenloomError

OK = 0

#: HTTP status -> business code (see the module docstring)
BUSINESS_CODES: dict[int, int] = {
    400: 40001, 401: 40101, 403: 40301, 404: 40401, 405: 40501, 406: 40601, 409: 40901, 412: 41201,
    413: 41301, 415: 41501, 416: 41601, 422: 40001, 428: 42801, 429: 42901, 500: 50001, 502: 50201,
    503: 50301,
}

#: human names of the business codes, for the docs and the OpenAPI error examples
CODE_TABLE: list[dict[str, Any]] = [
    {"code": 0, "http": 200, "meaning": "ok"},
    {"code": 40001, "http": 400, "meaning": "validation failed (data.field names the key at fault)"},
    {"code": 40401, "http": 404, "meaning": "not found"},
    {"code": 40901, "http": 409, "meaning": "version conflict (body version is stale)"},
    {"code": 41201, "http": 412, "meaning": "precondition failed (If-Match is stale)"},
    {"code": 42801, "http": 428, "meaning": "precondition required (send If-Match or version)"},
    {"code": 42901, "http": 429, "meaning": "rate limited"},
    {"code": 50201, "http": 502, "meaning": "upstream AI provider failed"},
    {"code": 50301, "http": 503, "meaning": "a dependency is unavailable"},
]


def business_code(status: int) -> int:
    return BUSINESS_CODES.get(status, status * 100 + 1)


def ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": OK, "message": "ok", "data": data}, status_code=status, headers=headers)


def error_body(err: GenloomError) -> dict[str, Any]:
    status = 400 if err.status == 422 else err.status
    # "field" is always there: the key at fault, or null when the request as a whole is wrong (say, not JSON)
    data: dict[str, Any] = {"error": err.code, "field": err.field}
    for key, value in err.details.items():
        if key != "errors":
            data[key] = value
    return {"code": business_code(status), "message": err.message, "data": data}


def error_response(err: GenloomError) -> JSONResponse:
    status = 400 if err.status == 422 else err.status
    headers = None
    if err.retry_after is not None and status in (429, 503):
        headers = {"Retry-After": str(max(1, int(err.retry_after)))}
    return JSONResponse(error_body(err), status_code=status, headers=headers)


def envelope_example(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "ok", "data": data}


def error_example(status: int, message: str, error: str, field: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"error": error}
    if field:
        data["field"] = field
    example = {"code": business_code(status), "message": message, "data": data}
    return {"description": message, "content": {"application/json": {"example": example}}}


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """The documented success shape (routes build the JSON themselves; this is for OpenAPI)."""

    code: int = 0
    message: str = "ok"
    data: T
