"""GenFlow collaborative editing and assistant: an app serving the GenFlow routes, users signed in through the
real identity service, articles made by the articles service, and a streaming OpenAI-compatible fake."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from genloom.app import create_app
from genloom.articles import service as articles
from genloom.core.principal import SYSTEM, Principal
from genloom.core.settings import Settings
from genloom.identity import service as users
from genloom.runtime import Runtime
from genloom.surfaces.genflow import assistant as assistant_routes
from genloom.surfaces.genflow import collab as collab_routes
from tests.conftest import settings_for
from tests.fakes.base import FakeServer
from tests.fakes.chat_stream import ChatStreamFake
from tests.fakes.chat_stream import create_app as chat_app

PASSWORD = "correct horse battery"


def genflow_app(runtime: Runtime) -> FastAPI:
    """The app; the GenFlow part-2 routers are added when the GenFlow surface does not serve them yet."""
    app = create_app(runtime=runtime, workers=0)
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/assistant/sessions" not in paths:
        app.include_router(assistant_routes.router)
        app.include_router(collab_routes.router)
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a: FastAPI) -> AsyncIterator[None]:
            async with inner(a), assistant_routes.lifespan(runtime), collab_routes.lifespan(runtime):
                yield

        app.router.lifespan_context = lifespan
    return app


@pytest.fixture
def chat_fake() -> Iterator[tuple[ChatStreamFake, str]]:
    state = ChatStreamFake(api_key="test-key")
    with FakeServer(chat_app(state)) as server:
        yield state, server.url + "/v1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, secret_key="test-secret-key-for-genflow-tests",
                        collab_idle_seconds=1.0, collab_leave_seconds=0.5, assistant_flush_seconds=0.05)


def assistant_settings(database_url: str, tmp_path: Path, chat_base: str) -> Settings:
    """The assistant against the streaming fake: small budgets so history folding and excerpts show."""
    return settings_for(database_url, tmp_path, secret_key="test-secret-key-for-genflow-tests",
                        text_provider="openai", openai_base_url=chat_base, openai_api_key="test-key",
                        text_model="gpt-4o-mini", provider_max_retries=0, assistant_flush_seconds=0.05,
                        assistant_context_tokens=400, assistant_excerpt_tokens=100)


@pytest.fixture
async def app_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = genflow_app(runtime)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c


async def make_user(runtime: Runtime, name: str) -> Principal:
    async with runtime.db.session() as s:
        user = await users.create_user(s, SYSTEM, username=name, password=PASSWORD, roles=["user"])
        return Principal.for_user(user.id, username=name, roles=["user"])


async def token_for(runtime: Runtime, client: httpx.AsyncClient, name: str) -> str:
    r = await client.post("/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


async def make_article(runtime: Runtime, author: Principal, *, title: str = "Draft", content: str = "Hello",
                       status: str = "draft") -> str:
    async with runtime.db.session() as s:
        article = await articles.create_article(s, author, title=title, content=content, status=status)
        return article.id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(text: str) -> list[dict[str, Any]]:
    import json

    out = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            out.append({"event": fields["event"], "id": fields.get("id"), "data": json.loads(fields["data"])})
    return out


NODE_DIR = Path(__file__).resolve().parent.parent / "node"


@pytest.fixture(scope="session")
def yjs_clients() -> Path:
    """The Node Yjs client script, with ``yjs``, ``y-websocket`` and ``ws`` installed into tests/node when missing."""
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Yjs client tests")
    if not all((NODE_DIR / "node_modules" / name).is_dir() for name in ("yjs", "y-websocket", "ws")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)], check=True,
                       capture_output=True, timeout=600)
    return NODE_DIR / "yjs_editors.mjs"


async def run_yjs(script: Path, timeout: float = 120.0, **config: Any) -> dict[str, Any]:
    """Run the Node client script with ``config``; its one JSON line of output."""
    import asyncio
    import json

    proc = await asyncio.create_subprocess_exec("node", str(script), json.dumps(config), cwd=str(script.parent),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    assert lines, f"no output from the Yjs clients (exit {proc.returncode}): {err.decode()[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in result, result
    return result
