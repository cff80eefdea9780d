"""``WS /ws/{client_id}`` matches any one path segment: it must not take the WebSocket routes of other surfaces."""

from __future__ import annotations

from typing import Any

from starlette.routing import Match

from genloom.app import create_app
from genloom.core.settings import Settings


def _routes(routes: list[Any]) -> list[Any]:
    """The app's routes in matching order, included routers opened up."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_routes(list(inner.routes)) if inner is not None else [route])
    return out


def _first_match(app: Any, path: str) -> str:
    scope = {"type": "websocket", "path": path, "root_path": "", "headers": [], "query_string": b""}
    for route in _routes(list(app.router.routes)):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return f"{route.endpoint.__module__}.{route.endpoint.__name__}"
    return ""


def test_channel_route_shadows_no_other_websocket(settings: Settings) -> None:
    app = create_app(settings)
    assert _first_match(app, "/ws/tasks").startswith("genloom.surfaces.cinemind.")
    assert _first_match(app, "/ws/articles/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b").startswith(
        "genloom.surfaces.genflow.collab.")
    assert _first_match(app, "/v1/ws").startswith("genloom.surfaces.native.") or _first_match(
        app, "/v1/ws").startswith("genloom.events.")
    assert _first_match(app, "/ws/my-laptop") == "genloom.surfaces.genflow.channel.channel"
