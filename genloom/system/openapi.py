"""The OpenAPI document as the server really behaves: what FastAPI cannot know from the route signatures alone.

FastAPI documents request-validation failures as 422 ``HTTPValidationError`` in ``application/json``; genloom
answers every error with 400 (validation) or its real status in the *surface's* error shape. It also documents
each route's security from the dependencies, without knowing that the auth mode of a surface decides whether
an anonymous caller is allowed. :func:`install` wraps ``app.openapi`` so that the document says:

- each error in the media type and schema its surface renders (``Surface.errors``: cineMind's envelope and
  Studio's ``{"error"}`` as ``application/json``, native and identity routes as ``application/problem+json``);
- the statuses every route can send whatever its handler does: 400 (validation, NUL characters, a malformed
  ``X-Client-Id``), 401 (a bad Bearer token, or missing credentials where the mode requires them), 404 for a
  route with path parameters;
- the security each route accepts under the configured auth mode (``{}`` where anonymous callers are allowed),
  and ``X-Client-Id`` as a header parameter with its pattern;
- the rules the server enforces on every string and every property name of an open object (no U+0000, refused
  by ``core.http.RejectNulCharacters``);
- an example for every parameter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.requests import Request

from genloom.core.settings import AuthMode, Settings
from genloom.surface import ErrorShape, Surface

Schema = dict[str, Any]

#: what ``identity.clients.check_client_id`` accepts
CLIENT_ID_PATTERN = r"^([A-Za-z0-9_-]{8,64})?$"  # empty counts as not sent
#: every string the server stores must be free of U+0000 (PostgreSQL cannot hold it)
NO_NUL_PATTERN = "^[^\\u0000]*$"

PROBLEM_SCHEMA: Schema = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable, `field` names the input at fault.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "code": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "string"},
        "instance": {"type": "string"}, "field": {"type": "string"},
    },
    "required": ["status", "code", "message"],
    "example": {"type": "https://genloom.dev/errors/validation_error", "title": "input.prompt: Field required",
                "status": 400, "code": "validation_error", "message": "input.prompt: Field required",
                "detail": "input.prompt: Field required", "instance": "/v1/jobs", "field": "input.prompt"},
}

#: the native and identity routes' errors (the default for any path no surface claims)
PROBLEM = "application/problem+json"


#: examples for the path and query parameters that name things, by parameter name
NAMED_EXAMPLES: dict[str, Any] = {
    "job_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "parent_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "asset_id": "0193a1b2-8d5e-7f90-ab1c-2d3e4f5a6b7c", "user_id": "0193a1b2-9e6f-7a01-bc2d-3e4f5a6b7c8d",
    "node_id": "0193a1b2-af70-7b12-8d3e-4f5a6b7c8d9e", "nodeId": "0193a1b2-af70-7b12-8d3e-4f5a6b7c8d9e",
    "graph_id": "0193a1b2-b081-7c23-9e4f-5a6b7c8d9e0f", "task_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "key": "images/2026/12/03/0193a1b2-b081-7c23-9e4f-5a6b7c8d9e0f.png", "exp": "1796300000",
    "sig": "9f2c5b1e7a0d4c3b8e6f1a2d5c7b9e0f3a6d8c1b4e7f0a2c5d8b1e4f7a0c3d6b", "kind": "image.generate",
    "q": "雨夜", "idempotency-key": "3f0c9a1e-req-42", "Idempotency-Key": "3f0c9a1e-req-42",
    "If-Match": '"2-5d41402abc4b2a76b971"', "If-None-Match": '"2-5d41402abc4b2a76b971"',
    "Last-Event-ID": 42, "updatedSince": "2026-12-01T08:00:00Z", "X-Client-Id": "device-7f3a9c21",
    "dir": "images/2026", "cursor": "MDE5M2ExYjItN2M0ZC03ZThmLTlhMGItMWMyZDNlNGY1YTZi",
}


def install(app: FastAPI, settings: Settings, surfaces: Sequence[Surface]) -> None:
    """Replace ``app.openapi`` with a builder that shapes FastAPI's document once and caches it: each surface's
    error shape and its own refinements (``Surface.openapi``), then the rules every route shares."""
    build = app.openapi
    shapes = [s.errors for s in surfaces if s.errors is not None and s.errors.schema is not None]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for surface in surfaces:
                if surface.openapi is not None:
                    surface.openapi(doc, settings)
            app.openapi_schema = shape(doc, app, settings, shapes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def shape(doc: dict[str, Any], app: FastAPI, settings: Settings, shapes: list[ErrorShape]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    schemas: dict[str, Schema] = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for s in shapes:
        assert s.schema is not None
        schemas[s.schema["title"]] = s.schema
    routes = {(r.path, m.lower()): r for r in iter_route_contexts(app.routes) if r.path and r.methods
              for m in r.methods}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            mode = _auth_mode(route, settings) if route is not None else None
            if mode is not None:
                operation["security"] = _security(mode)
            _document_errors(path, method, operation, shapes)
            _example_responses(operation, schemas)
            for param in operation.get("parameters", []):
                _forbid_nul(param.get("schema", {}))
                if "example" not in param and "examples" not in param:
                    param["example"] = _example(param, schemas)
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                _forbid_nul(media.get("schema", {}))  # bodies written out in the route (the OAuth2 forms)
    for schema in schemas.values():
        _forbid_nul(schema)
    return doc


# --- security ----------------------------------------------------------------------------------------------

def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _auth_mode(route: RouteContext, settings: Settings) -> AuthMode | None:
    """The auth mode of the caller dependency a route uses (``identity.deps.caller`` names it ``caller_<x>``)."""
    dependant: Dependant | None = getattr(route, "dependant", None)
    for dep in _walk(dependant) if dependant is not None else ():
        name = getattr(dep.call, "__name__", "")
        if not name.startswith("caller_"):
            continue
        which = name.removeprefix("caller_")
        if which in AuthMode.__members__:
            return AuthMode(which)
        mode: AuthMode | None = getattr(settings, f"auth_mode_{which}", None)
        return mode
    return None


def _security(mode: AuthMode) -> list[dict[str, list[str]]]:
    if mode is AuthMode.user:
        return [{"Bearer": []}]
    if mode is AuthMode.client:
        return [{"ClientId": []}, {"Bearer": []}]
    return [{"Bearer": []}, {"ClientId": []}, {}]


def _client_id_header() -> dict[str, Any]:
    return {
        "name": "X-Client-Id", "in": "header", "required": False,
        "description": "Anonymous client id (the ClientId security scheme, stated here with its pattern). "
                       "A malformed value is a 400 `invalid_client_id`.",
        "schema": {"type": "string", "pattern": CLIENT_ID_PATTERN},
        "example": NAMED_EXAMPLES["X-Client-Id"],
    }


# --- errors ------------------------------------------------------------------------------------------------

def _error_shape(path: str, shapes: list[ErrorShape]) -> tuple[str, str]:
    concrete = re.sub(r"\{[^}]+\}", "x", path)
    request = Request({"type": "http", "method": "GET", "path": concrete, "query_string": b"", "headers": []})
    for s in shapes:
        if s.matches(request):
            return s.media_type, str((s.schema or {}).get("title", "Problem"))
    return PROBLEM, "Problem"


_ALWAYS = {"400": "Invalid input: a field, a NUL character or a malformed X-Client-Id (`field` names it)"}


def _document_errors(path: str, method: str, operation: dict[str, Any], shapes: list[ErrorShape]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.pop("422", None)
    security = operation.get("security") or []
    if validation is not None or operation.get("parameters") or "requestBody" in operation or security:
        responses.setdefault("400", {"description": _ALWAYS["400"]})
    if any("Bearer" in s for s in security):
        responses.setdefault("401", {"description": "The Bearer token is invalid or expired, or this route needs "
                                                    "credentials that were not sent"})
    if any("ClientId" in s for s in security):
        operation.setdefault("parameters", []).append(_client_id_header())
    if "{" in path:
        responses.setdefault("404", {"description": "Not found (also what another owner's id answers)"})
    media_type, name = _error_shape(path, shapes)
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        old = response.get("content") or {}
        example = next((c["example"] for c in old.values() if isinstance(c, dict) and "example" in c), None)
        content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
        if example is not None:
            content["example"] = example
        response["content"] = {media_type: content}


# --- response examples ---------------------------------------------------------------------------------

_NO_EXAMPLE = object()


def _derive(schema: Schema, schemas: dict[str, Schema], depth: int = 0) -> Any:
    """An example value built from the schema's own examples (and defaults), or _NO_EXAMPLE."""
    if depth > 6:
        return _NO_EXAMPLE
    if "$ref" in schema:
        return _derive(schemas.get(schema["$ref"].rsplit("/", 1)[-1], {}), schemas, depth + 1)
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            value = _derive(option, schemas, depth + 1)
            if value is not _NO_EXAMPLE:
                return value
        return _NO_EXAMPLE
    if schema.get("type") == "array" and "items" in schema:
        item = _derive(schema["items"], schemas, depth + 1)
        return _NO_EXAMPLE if item is _NO_EXAMPLE else [item]
    if schema.get("type") == "object" and schema.get("properties"):
        out: dict[str, Any] = {}
        for name, sub in schema["properties"].items():
            value = _derive(sub, schemas, depth + 1)
            if value is _NO_EXAMPLE:
                if name in schema.get("required", []):
                    return _NO_EXAMPLE
                continue
            out[name] = value
        return out
    return _NO_EXAMPLE


def _example_responses(operation: dict[str, Any], schemas: dict[str, Schema]) -> None:
    """A JSON success answer without an example gets one built from its schema's examples (cineMind's envelope
    around a node, a page of assets, …): every response is documented by a true example."""
    for status, response in operation.get("responses", {}).items():
        content = (response.get("content") or {}).get("application/json")
        if not status.startswith("2") or not content or "example" in content or "examples" in content:
            continue
        value = _derive(content.get("schema", {}), schemas)
        if value is not _NO_EXAMPLE:
            content["example"] = value


# --- strings and examples ----------------------------------------------------------------------------------

def _forbid_nul(schema: Any) -> None:
    """State the no-NUL rule on every free-text string (one with no pattern, format or enum of its own)."""
    if isinstance(schema, list):
        for item in schema:
            _forbid_nul(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not ({"pattern", "format", "enum", "const"} & schema.keys()):
        schema["pattern"] = NO_NUL_PATTERN
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        # an object open to names of the caller's choosing: those names are refused with a NUL too
        schema.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
    for key in ("properties", "patternProperties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            _forbid_nul(sub)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
        if key in schema:
            _forbid_nul(schema[key])


def _example(param: dict[str, Any], schemas: dict[str, Schema]) -> Any:
    """A parameter's example: its schema's own (or default), else the name's, else one its type allows."""
    schema: Schema = param.get("schema", {})
    options = [schema, *schema.get("anyOf", [])]
    options = [schemas.get(o["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in o else o for o in options]
    for option in options:
        for key in ("example", "default"):
            if option.get(key) is not None:
                return option[key]
    if param.get("name") in NAMED_EXAMPLES:
        return NAMED_EXAMPLES[param["name"]]
    for option in options:
        if "enum" in option:
            return option["enum"][0]
        if option.get("type") == "integer":
            return option.get("minimum", 1)
        if option.get("type") == "boolean":
            return False
    return "example"
