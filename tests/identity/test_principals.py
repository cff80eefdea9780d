"""Who is calling: auth modes per surface, anonymous client ids, the WebSocket variant."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request, WebSocket
from sqlalchemy import select
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from genloom.assembly import build_runtime, start_runtime
from genloom.core.db import utc_now
from genloom.core.http import ErrorRenderers, install_error_handlers
from genloom.core.principal import Principal
from genloom.core.settings import AuthMode, Settings
from genloom.identity import tokens
from genloom.identity.deps import caller, resolve_request, ws_caller
from genloom.identity.models import Client
from genloom.runtime import Runtime
from tests.identity.conftest import bearer, create_user, login
from tests.processes import free_port


def probe_app(runtime: Runtime | None = None, settings: Settings | None = None) -> FastAPI:
    """A small app whose routes only report the resolved caller, one per surface."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        assert settings is not None
        rt = build_runtime(settings)
        await start_runtime(rt, migrate=False)
        app.state.runtime = rt
        try:
            yield
        finally:
            await rt.close()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app, ErrorRenderers())
    for surface in ("native", "studio", "cinemind", "huaban", "genflow"):
        dep = caller(surface)

        async def who(p: Principal = Depends(dep)) -> dict[str, object]:
            return {"owner_id": p.owner_id, "kind": p.kind}

        app.add_api_route(f"/{surface}", who, methods=["GET"])

        def raw_route(surface: str = surface):  # type: ignore[no-untyped-def]
            async def raw(request: Request) -> dict[str, object]:
                p = await resolve_request(request, surface)
                return {"owner_id": p.owner_id, "kind": p.kind}

            return raw

        app.add_api_route(f"/raw/{surface}", raw_route(), methods=["GET"])
        ws_dep = ws_caller(surface)

        async def ws_who(websocket: WebSocket, p: Principal = Depends(ws_dep)) -> None:
            await websocket.accept()
            await websocket.send_json({"owner_id": p.owner_id, "kind": p.kind})
            await websocket.close()

        app.add_api_websocket_route(f"/ws/{surface}", ws_who)
    return app


@pytest.fixture
async def probe(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = probe_app(runtime)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            yield c


class TestModes:
    async def test_defaults(self, probe: httpx.AsyncClient, runtime: Runtime) -> None:
        # open surfaces: nobody is the public owner
        for surface in ("native", "studio", "cinemind"):
            r = await probe.get(f"/{surface}")
            assert r.json() == {"owner_id": "public", "kind": "anonymous"}
        # HuaBan needs a client id, GenFlow a user
        r = await probe.get("/huaban")
        assert r.status_code == 401 and r.json()["code"] == "client_id_required"
        r = await probe.get("/genflow")
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
        r = await probe.get("/genflow", headers={"X-Client-Id": "device-12345"})
        assert r.status_code == 401

        client_hdr = {"X-Client-Id": "device-12345"}
        for surface in ("native", "huaban"):  # open mode still identifies a caller who says who they are
            assert (await probe.get(f"/{surface}", headers=client_hdr)).json() == {"owner_id": "c:device-12345", "kind": "client"}

        user_id = await create_user(runtime, "mei")
        from genloom.app import create_app

        app = create_app(runtime=runtime, workers=0)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as api:
            auth = bearer(await login(api, "mei"))
        for surface in ("native", "huaban", "genflow"):
            r = await probe.get(f"/{surface}", headers=auth)
            assert r.json() == {"owner_id": f"u:{user_id}", "kind": "user"}

    async def test_without_dependency_solving(self, probe: httpx.AsyncClient, runtime: Runtime) -> None:
        assert (await probe.get("/raw/native")).json() == {"owner_id": "public", "kind": "anonymous"}
        # another auth scheme is not a bearer token: ignored, not refused
        assert (await probe.get("/raw/native", headers={"Authorization": "Basic bWVpOnB3"})).json()["kind"] == "anonymous"
        assert (await probe.get("/raw/native", headers={"Authorization": "Bearer forged"})).status_code == 401
        assert (await probe.get("/raw/huaban")).status_code == 401
        assert (await probe.get("/raw/huaban", headers={"X-Client-Id": "device-12345"})).json()["kind"] == "client"
        user_id = await create_user(runtime, "mei")
        from genloom.identity import tokens as t

        token, _ = t.encode_access(runtime.settings, user_id=user_id, token_version=0, now=utc_now())
        r = await probe.get("/raw/genflow", headers={"Authorization": f"bearer {token}"})
        assert r.json() == {"owner_id": f"u:{user_id}", "kind": "user"}

    async def test_modes_come_from_settings(self, probe: httpx.AsyncClient, runtime: Runtime) -> None:
        runtime.settings.auth_mode_studio = AuthMode.client
        runtime.settings.auth_mode_huaban = AuthMode.open
        runtime.settings.auth_mode_native = AuthMode.user
        assert (await probe.get("/studio")).status_code == 401
        assert (await probe.get("/huaban")).json()["owner_id"] == "public"
        assert (await probe.get("/native")).status_code == 401

    def test_env_names(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tests.conftest import make_settings

        monkeypatch.setenv("GENLOOM_AUTH_MODE_CINEMIND", "user")
        monkeypatch.setenv("GENLOOM_AUTH_MODE_HUABAN", "open")
        s = make_settings()
        assert s.auth_mode_cinemind is AuthMode.user and s.auth_mode_huaban is AuthMode.open
        assert s.auth_mode_genflow is AuthMode.user and s.auth_mode_native is AuthMode.open
        with pytest.raises(ValueError):
            caller("nowhere")


class TestClientIds:
    @pytest.mark.parametrize("bad", ["short", "x" * 65, "has space1", "semi;colon", "ünïcødé-id".encode(), "../../etc"])
    async def test_bad_client_id(self, probe: httpx.AsyncClient, bad: str | bytes) -> None:
        r = await probe.get("/huaban", headers={"X-Client-Id": bad})  # type: ignore[arg-type]
        assert r.status_code == 400 and r.json()["code"] == "invalid_client_id" and r.json()["field"] == "X-Client-Id"

    async def test_registered_on_first_use(self, probe: httpx.AsyncClient, runtime: Runtime) -> None:
        for _ in range(3):
            r = await probe.get("/huaban", headers={"X-Client-Id": "A1b2-C3d4_e5", "User-Agent": "HuaBan/1.2 (iPad)"})
            assert r.status_code == 200
        async with runtime.db.read_session() as s:
            rows = list((await s.execute(select(Client))).scalars())
        assert [(c.id, c.user_agent) for c in rows] == [("A1b2-C3d4_e5", "HuaBan/1.2 (iPad)")]
        assert rows[0].first_seen_at <= rows[0].last_seen_at


@pytest.fixture
def ws_base(settings: Settings) -> Iterator[str]:
    """The probe app served by uvicorn on a real socket (its own event loop, in a thread)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(probe_app(settings=settings), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "probe server did not start"
        time.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _who(url: str, **headers: str) -> dict[str, object]:
    with connect(url, additional_headers=headers or None, open_timeout=10) as ws:
        data: dict[str, object] = json.loads(ws.recv(timeout=10))
        return data


class TestWebSocket:
    def test_ws_caller(self, ws_base: str) -> None:
        assert _who(f"{ws_base}/ws/native") == {"owner_id": "public", "kind": "anonymous"}
        assert _who(f"{ws_base}/ws/huaban?client_id=device-12345")["owner_id"] == "c:device-12345"
        assert _who(f"{ws_base}/ws/huaban?clientId=device-22222")["owner_id"] == "c:device-22222"
        assert _who(f"{ws_base}/ws/huaban", **{"X-Client-Id": "device-67890"})["owner_id"] == "c:device-67890"
        for path in ("/ws/huaban", "/ws/genflow?clientId=device-12345", "/ws/native?token=forged.token.here",
                     "/ws/huaban?client_id=bad"):
            # refused before the accept: uvicorn turns close code 1008 into an HTTP 403 handshake answer
            with pytest.raises(InvalidStatus) as info:
                _who(f"{ws_base}{path}")
            assert info.value.response.status_code == 403, path

    def test_ws_with_token(self, ws_base: str, settings: Settings) -> None:
        async def make_user() -> str:
            from genloom.core.db import Database

            db = Database(settings)
            try:
                async with db.session() as s:
                    from genloom.core.principal import SYSTEM
                    from genloom.identity import service

                    user = await service.create_user(s, SYSTEM, username="mei", password="correct horse battery")
                    return user.id
            finally:
                await db.dispose()

        user_id = asyncio.run(make_user())
        token, _ = tokens.encode_access(settings, user_id=user_id, token_version=0, now=utc_now())
        assert _who(f"{ws_base}/ws/genflow?token={token}") == {"owner_id": f"u:{user_id}", "kind": "user"}
        assert _who(f"{ws_base}/ws/genflow", Authorization=f"Bearer {token}")["kind"] == "user"
        assert _who(f"{ws_base}/ws/genflow?access_token={token}")["kind"] == "user"
