"""A small client for the GenFlow channel in tests: JSON frames over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.articles.conftest import PASSWORD


async def login(base: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token


def ws_url(base: str, client_id: str, token: str | None) -> str:
    url = base.replace("http://", "ws://") + f"/ws/{client_id}"
    return url + (f"?token={token}" if token is not None else "")


async def open_channel(base: str, client_id: str, token: str | None, **kw: Any) -> ClientConnection:
    return await connect(ws_url(base, client_id, token), open_timeout=10, **kw)


async def send(ws: ClientConnection, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def recv(ws: ClientConnection, *, timeout: float = 5.0, skip: tuple[str, ...] = ("heartbeat",)) -> dict[str, Any]:
    """The next frame whose type is not in ``skip``."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("type") not in skip:
            return frame


async def until(ws: ClientConnection, type_: str, *, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        frame = await recv(ws, timeout=timeout)
        if frame["type"] == type_:
            return frame


async def join(ws: ClientConnection, room: str) -> dict[str, Any]:
    await send(ws, type="join", room=room)
    frame = await recv(ws)
    assert frame["type"] == "joined" and frame["room"] == room, frame
    return frame
