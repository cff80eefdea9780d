"""A Postman v2.1 collection built from the OpenAPI document: one folder per tag, one request per operation,
with the documented example body and query parameters, and ``{{baseUrl}}`` as a collection variable.

The output is deterministic (ids are UUIDv5 of method and path; keys are sorted), so the committed
``docs/genloom.postman_collection.json`` can be checked for freshness. WebSocket routes are not part of OpenAPI:
they are read from the app's routes and filed under "WebSocket" (a few carry a hand-written description).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
NAMESPACE = uuid.UUID("5b0e3c1e-8f0a-4c6e-9a51-6d2b1f0c7a11")
METHODS = ("get", "post", "put", "patch", "delete", "head")

#: descriptions of WebSocket routes (OpenAPI cannot describe them): path -> (query, description)
WS_NOTES: dict[str, tuple[str, str]] = {
    "/ws/tasks": ("after=0", 'cineMind task messages {"type","taskId","progress","data","eventId"}; send '
                             '{"subscribe": [taskIds]} to narrow; reconnect with ?after=<last eventId> to resume.'),
    "/ws/{client_id}": ("token={{accessToken}}", 'GenFlow realtime channel: send {"type": "join", "room": '
                                                 '"article:<id>"}, {"type": "publish", "room", "data"}, '
                                                 '{"type": "resume", "room", "after": <seq>}, {"type": "ping"}; '
                                                 'see docs/genflow.md.'),
}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, " ".join(parts)))


def _example_body(operation: dict[str, Any], components: dict[str, Any]) -> Any:
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    if not content:
        return None
    if "example" in content:
        return content["example"]
    for example in (content.get("examples") or {}).values():
        if "value" in example:
            return example["value"]
    schema = content.get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = components.get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    return schema.get("example", {})


def _url(path: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    postman_path = "/".join(f":{seg[1:-1]}" if seg.startswith("{") else seg for seg in path.strip("/").split("/"))
    url: dict[str, Any] = {"raw": "{{baseUrl}}/" + postman_path, "host": ["{{baseUrl}}"],
                           "path": postman_path.split("/") if postman_path else []}
    query = [p for p in params if p.get("in") == "query"]
    if query:
        url["query"] = [{"key": p["name"], "value": _param_value(p), "disabled": not p.get("required", False),
                         "description": p.get("description", "")} for p in query]
        url["raw"] += "?" + "&".join(f"{q['key']}={q['value']}" for q in url["query"] if not q["disabled"])
        url["raw"] = url["raw"].rstrip("?")
    variables = [p for p in params if p.get("in") == "path"]
    if variables:
        url["variable"] = [{"key": p["name"], "value": ""} for p in variables]
    return url


def _param_value(param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    value = param.get("example", schema.get("default", ""))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _headers(params: list[dict[str, Any]], has_body: bool) -> list[dict[str, Any]]:
    headers = [{"key": p["name"], "value": "", "disabled": True, "description": p.get("description", "")}
               for p in params if p.get("in") == "header"]
    if has_body:
        headers.insert(0, {"key": "Content-Type", "value": "application/json"})
    return headers


def build_collection(openapi: dict[str, Any], *, websockets: list[str] | None = None,
                     base_url: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """The collection for every operation of ``openapi`` plus the WebSocket route paths in ``websockets``."""
    folders: dict[str, list[dict[str, Any]]] = {}
    components = openapi.get("components", {})
    for path in sorted(openapi.get("paths", {})):
        for method in METHODS:
            operation = openapi["paths"][path].get(method)
            if operation is None:
                continue
            params = operation.get("parameters", [])
            body = _example_body(operation, components)
            request: dict[str, Any] = {"method": method.upper(), "header": _headers(params, body is not None),
                                       "url": _url(path, params), "description": operation.get("description", "")}
            if body is not None:
                request["body"] = {"mode": "raw", "raw": json.dumps(body, ensure_ascii=False, indent=2),
                                   "options": {"raw": {"language": "json"}}}
            tag = (operation.get("tags") or ["Other"])[0]
            folders.setdefault(tag, []).append({
                "id": _id(method, path), "name": operation.get("summary") or f"{method.upper()} {path}",
                "request": request, "response": [],
            })
    for path in sorted(websockets or []):
        query, description = WS_NOTES.get(path, ("", "WebSocket"))
        postman_path = "/".join(f":{seg[1:-1]}" if seg.startswith("{") else seg for seg in path.strip("/").split("/"))
        raw = "{{wsBaseUrl}}/" + postman_path + (f"?{query}" if query else "")
        folders.setdefault("WebSocket", []).append({
            "id": _id("ws", path), "name": f"WS {path}", "response": [],
            "request": {"method": "GET", "header": [], "description": description,
                        "url": {"raw": raw, "host": ["{{wsBaseUrl}}"], "path": postman_path.split("/")}},
        })
    tags = [t["name"] for t in openapi.get("tags", [])]
    order = sorted(folders, key=lambda t: (tags.index(t) if t in tags else len(tags), t))
    info = openapi.get("info", {})
    return {
        "info": {"_postman_id": _id("collection", info.get("title", "genloom")), "name": info.get("title", "genloom"),
                 "description": info.get("description", ""), "schema": SCHEMA},
        "item": [{"name": tag, "item": folders[tag]} for tag in order],
        "variable": [{"key": "baseUrl", "value": base_url},
                     {"key": "wsBaseUrl", "value": base_url.replace("http", "ws", 1)}],
    }


def render(collection: dict[str, Any]) -> str:
    return json.dumps(collection, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def collection_text() -> str:
    """The collection of this build's app, as committed in docs/ (settings do not change the routes)."""
    from starlette.routing import WebSocketRoute

    from genloom.app import create_app
    from genloom.core.settings import Settings

    settings = Settings(_env_file=None, env="test", database_url="sqlite+aiosqlite:///:memory:")  # type: ignore[call-arg, arg-type]
    app = create_app(settings)
    websockets: list[str] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, WebSocketRoute):
                websockets.append(route.path)
            inner = getattr(route, "original_router", None)  # FastAPI keeps included routers nested
            if inner is not None:
                walk(list(inner.routes))

    walk(list(app.routes))
    return render(build_collection(app.openapi(), websockets=websockets))
