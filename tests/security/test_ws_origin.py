"""Cross-site WebSocket hijacking: every WebSocket route checks ``Origin`` against the CORS allow-list.

Driven from real Chromium (tests/browser.py): a page on an allowed origin, one on the server's own origin and
one on a foreign origin (each a real local web server, as an app in development is) open the native ``/v1/ws``
and cineMind's ``/ws/tasks``; only the first two get a socket. Non-browser clients (no ``Origin``) connect unless ``GENLOOM_WS_REQUIRE_ORIGIN`` is set."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from genloom.core.origins import OriginPolicy
from genloom.runtime import Runtime
from tests.browser import BrowserPage, page_origin, run_in_chromium

ALLOWED = "http://app.example"
FOREIGN = "http://evil.example"
#: every WebSocket route the server has (a new one belongs here too)
WS_PATHS = ("/v1/ws", "/ws/tasks?after=0")


class TestPolicy:
    @pytest.mark.parametrize(("origin", "host", "allowed"), [
        ("http://app.example", "api.internal:8000", True),  # listed
        ("HTTP://App.Example:80", "api.internal:8000", True),  # same origin, spelled differently
        ("http://app.example:8080", "api.internal:8000", False),  # another port is another origin
        ("https://app.example", "api.internal:8000", False),  # another scheme too
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),  # the server's own pages
        ("https://api.example.com", "api.example.com", True),  # behind a TLS proxy: https page, plain ws to us
        ("http://evil.example", "api.internal:8000", False),
        ("http://evil.example", None, False),
        ("null", "api.internal:8000", False),  # sandboxed frames, file:// pages
        ("chrome-extension://abcdef", "api.internal:8000", False),
        (None, "api.internal:8000", True),  # a script or an app: no Origin
    ])
    def test_decisions(self, origin: str | None, host: str | None, allowed: bool) -> None:
        assert OriginPolicy([ALLOWED]).allows(origin, host) is allowed

    def test_no_origin_refusable_star_allows_all_public_url_counts_as_own(self) -> None:
        assert not OriginPolicy([ALLOWED], require_origin=True).allows(None, "api.internal")
        assert OriginPolicy(["*"]).allows(FOREIGN, "api.internal")
        behind_proxy = OriginPolicy([], public_base_url="https://genloom.example.com/base/")
        assert behind_proxy.allows("https://genloom.example.com", "10.0.0.5:8000")


def _probe_script(ws_base: str) -> str:
    """JavaScript: open each WebSocket route; report "open" (plus the first message) or how it closed."""
    return f"""
        const results = {{}};
        for (const path of {json.dumps(list(WS_PATHS))}) {{
            results[path] = await new Promise((resolve) => {{
                const ws = new WebSocket({json.dumps(ws_base)} + path);
                let opened = false;
                const timer = setTimeout(() => resolve("timeout"), 5000);
                ws.onopen = () => {{ opened = true; }};
                ws.onmessage = () => {{ clearTimeout(timer); ws.close(); resolve("open"); }};
                ws.onclose = (event) => {{ clearTimeout(timer); resolve(opened ? "open" : "refused:" + event.code); }};
                // ask for an answer at once (a heartbeat on /v1/ws, a reply on /ws/tasks) rather than wait for one
                ws.addEventListener("open", () => ws.send(JSON.stringify({{op: "ping"}})));
            }});
        }}
        return results;
    """


async def test_chromium_pages_get_a_socket_only_from_allowed_origins(
        runtime: Runtime, live_server: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="genloom.http")
    with page_origin() as app_origin, page_origin() as foreign_origin:
        runtime.settings.cors_origins = [app_origin]
        async with live_server() as base:
            script = _probe_script("ws" + base[4:])
            allowed, own, foreign = await run_in_chromium([
                BrowserPage(f"{app_origin}/index.html", script),
                # a page of the server's own origin (any document it serves will do)
                BrowserPage(f"{base}/health", script),
                BrowserPage(f"{foreign_origin}/index.html", script),
            ])
    assert allowed == {path: "open" for path in WS_PATHS}, allowed
    assert own == {path: "open" for path in WS_PATHS}, own
    # the handshake is refused (HTTP 403): the browser reports an abnormal closure and never saw a byte
    assert foreign == {path: "refused:1006" for path in WS_PATHS}, foreign
    refused = [r.getMessage() for r in caplog.records if "ws.origin_refused" in r.getMessage()]
    assert len(refused) == len(WS_PATHS) and all(f"origin={foreign_origin}" in line for line in refused)


async def test_clients_without_origin_connect_unless_required(runtime: Runtime,
                                                              live_server: Callable[..., Any]) -> None:
    async with live_server() as base:
        ws_base = "ws" + base[4:]
        for path in WS_PATHS:
            async with connect(ws_base + path, proxy=None) as ws:  # the websockets client sends no Origin
                assert ws.response is not None and ws.response.status_code == 101
            with pytest.raises(InvalidStatus) as info:
                async with connect(ws_base + path, proxy=None, origin=FOREIGN):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403
    runtime.settings.ws_require_origin = True
    async with live_server() as base:
        for path in WS_PATHS:
            with pytest.raises(InvalidStatus) as info:
                async with connect("ws" + base[4:] + path, proxy=None):
                    pass
            assert info.value.response.status_code == 403
