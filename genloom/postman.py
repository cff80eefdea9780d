"""A Postman v2.1 collection built from the OpenAPI document, that runs as delivered (newman runs it in the tests).

- First the flows of :mod:`genloom.postman_flows`: folders that create before they read (sign up and sign in,
  the token into ``{{accessToken}}``; create a job and poll it until done; a node; a cineMind generation …),
  each request with a test of its status and shape.
- Then one folder per tag with every operation (the reference): the documented example body and query, path
  variables bound to the collection variables the flows set (``:job_id`` = ``{{jobId}}``), and a test that the
  status is one the document declares. Operations of ids no flow creates answer their documented 404.
- Last, "WebSocket": the WebSocket routes (OpenAPI cannot describe them; Postman runs them in its own
  WebSocket client, newman not at all), kept out of a newman run with ``--folder``.

The output is deterministic (ids are UUIDv5 of method and path; keys are sorted), so the committed
``docs/genloom.postman_collection.json`` can be checked for freshness.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from genloom.postman_flows import FLOWS, Step, test_script

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


#: path parameter -> the collection variable a flow sets
PATH_VARIABLES = {"job_id": "jobId", "node_id": "nodeId", "asset_id": "assetId", "task_id": "taskId",
                  "graph_id": "graphId", "user_id": "userId"}


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
        url["variable"] = [{"key": p["name"], "value": "{{" + PATH_VARIABLES[p["name"]] + "}}"
                            if p["name"] in PATH_VARIABLES else str(p.get("example", ""))} for p in variables]
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


def _schema(ref_or_schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref", "")
    if ref:
        found: dict[str, Any] = components.get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
        return found
    return ref_or_schema


def _required_keys(operation: dict[str, Any] | None, components: dict[str, Any]) -> list[str]:
    """The required top-level keys of the operation's JSON success answer (the shape its test checks)."""
    for status, response in sorted((operation or {}).get("responses", {}).items()):
        if status.startswith("2"):
            content = (response.get("content") or {}).get("application/json")
            if content and "schema" in content:
                return list(_schema(content["schema"], components).get("required", []))
    return []


def _statuses(operation: dict[str, Any]) -> tuple[int, ...]:
    return tuple(sorted(int(s) for s in operation.get("responses", {}) if s.isdigit()))


def _event(listen: str, script: str) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": script.split("\n")}}


def _find(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The operation a flow step calls (``/v1/jobs/{{jobId}}`` is ``/v1/jobs/{job_id}``)."""
    for template, operations in openapi.get("paths", {}).items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            found: dict[str, Any] = operations[method.lower()]
            return found
    return None


def _flow_item(step: Step, openapi: dict[str, Any]) -> dict[str, Any]:
    components = openapi.get("components", {})
    segments = step.path.strip("/").split("/")
    raw = "{{baseUrl}}/" + "/".join(segments)
    url: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": segments}
    if step.query:
        url["query"] = [{"key": k, "value": v} for k, v in step.query.items()]
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in step.query.items())
    headers = [{"key": k, "value": v} for k, v in step.headers.items()]
    request: dict[str, Any] = {"method": step.method, "header": headers, "url": url}
    if step.body is not None:
        headers.insert(0, {"key": "Content-Type", "value": "application/json"})
        request["body"] = {"mode": "raw", "raw": json.dumps(step.body, ensure_ascii=False, indent=2),
                           "options": {"raw": {"language": "json"}}}
    if not step.auth:
        request["auth"] = {"type": "noauth"}
    events = [_event("test", test_script(step, _required_keys(_find(openapi, step.method, step.path), components)))]
    if step.prerequest:
        events.insert(0, _event("prerequest", step.prerequest))
    return {"id": _id("flow", step.method, step.path, step.name), "name": step.name, "request": request,
            "response": [], "event": events}


def build_collection(openapi: dict[str, Any], *, websockets: list[str] | None = None,
                     base_url: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """The flows, then every operation of ``openapi`` by tag, then the WebSocket route paths in ``websockets``."""
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
            check = Step(operation.get("summary") or f"{method.upper()} {path}", method.upper(), path,
                         expect=_statuses(operation))
            tag = (operation.get("tags") or ["Other"])[0]
            folders.setdefault(tag, []).append({
                "id": _id(method, path), "name": check.name, "request": request, "response": [],
                "event": [_event("test", test_script(check, _required_keys(operation, components)))],
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
    order = sorted(folders, key=lambda t: (t == "WebSocket", tags.index(t) if t in tags else len(tags), t))
    info = openapi.get("info", {})
    flows = [{"name": name, "item": [_flow_item(step, openapi) for step in steps]} for name, steps in FLOWS]
    return {
        "info": {"_postman_id": _id("collection", info.get("title", "genloom")), "name": info.get("title", "genloom"),
                 "description": info.get("description", "") + "\n\nRun the numbered folders in order (newman: "
                                "one --folder per numbered folder); the reference folders after them reuse the "
                                "ids they stored. WebSocket requests need Postman's WebSocket client.",
                 "schema": SCHEMA},
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "item": flows + [{"name": tag, "item": folders[tag]} for tag in order],
        "variable": [{"key": "baseUrl", "value": base_url},
                     {"key": "wsBaseUrl", "value": base_url.replace("http", "ws", 1)},
                     *({"key": key, "value": ""} for key in ("accessToken", "refreshToken", "username", "password",
                                                             "polls", *sorted(set(PATH_VARIABLES.values())),
                                                             "nodeEtag", "studioJobId"))],
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
