"""A client that stops reading is closed with 1013 once its outgoing queue overflows, and holds nobody up.

The editors here are small y-protocols clients on pycrdt over real sockets (``websockets``). The slow one is a
bare TCP socket with a tiny receive buffer that does the WebSocket handshake and then reads nothing, so the
server's writes to it back up through the kernel buffers into its queue; at the end it reads everything that
reached it, frame by frame, up to the close frame.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import time
from typing import Any

import httpx
import websockets
from pycrdt import Doc, Text, TransactionEvent, YMessageType, create_update_message, handle_sync_message
from pycrdt._sync import create_sync_step1_message
from websockets.asyncio.client import ClientConnection

from genloom.runtime import Runtime
from tests.conftest import serve_app
from tests.genflow_live.conftest import PASSWORD, genflow_app, make_article, make_user

CHUNK = 16 * 1024
#: far more than the socket buffers between server and client can hold (the queue behind them overflows first)
MAX_CHUNKS = 1000
CLOSE_TOO_SLOW = 1013


class Editor:
    """A y-protocols client: syncs, applies what the server sends, sends its own edits as updates."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.doc["content"] = self.text = Text()
        self.synced = asyncio.Event()
        self.changed = asyncio.Event()
        self._outgoing: list[bytes] = []
        self._applying = False
        self.doc.observe(self._on_transaction)
        self.task = asyncio.create_task(self._read())

    def _on_transaction(self, event: TransactionEvent) -> None:
        if not self._applying:
            self._outgoing.append(event.update)

    async def _read(self) -> None:
        await self.ws.send(create_sync_step1_message(self.doc.get_state()))
        async for message in self.ws:
            assert isinstance(message, bytes)
            if message[0] != YMessageType.SYNC:
                continue
            self._applying = True
            try:
                reply = handle_sync_message(message[1:], self.doc)
            finally:
                self._applying = False
            if message[1] == 1:  # sync step 2: the server's document
                self.synced.set()
            if reply is not None:
                await self.ws.send(reply)
            self.changed.set()

    async def append(self, piece: str) -> None:
        self.text += piece
        await self._flush()

    async def delete(self, piece: str) -> None:
        start = str(self.text).index(piece)
        del self.text[start:start + len(piece)]
        await self._flush()

    async def _flush(self) -> None:
        for update in self._outgoing:
            await self.ws.send(create_update_message(update))
        self._outgoing.clear()

    async def wait_for(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in str(self.text):
            assert not self.task.done(), self.task.exception() if not self.task.cancelled() else "cancelled"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))
            assert time.monotonic() < deadline, f"{marker!r} did not arrive"


async def _connect(url: str, token: str) -> ClientConnection:
    return await websockets.connect(f"{url}?token={token}", max_size=None, ping_interval=None)


async def _stalled_client(port: int, path: str) -> socket.socket:
    """A WebSocket handshake on a socket with a 4 KB receive buffer; the caller then stops reading it."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: it sets the window
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(raw, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(raw, (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(raw, 1)  # byte by byte: nothing after the headers is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


async def _close_code(raw: socket.socket) -> int | None:
    """Read the server's frames until its close frame; that frame's code (None: closed without one)."""
    loop = asyncio.get_running_loop()
    buffer = b""
    while True:
        chunk = await asyncio.wait_for(loop.sock_recv(raw, 1 << 20), 60)
        if not chunk:
            return None
        buffer += chunk
        while len(buffer) >= 2:
            opcode, size, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size == 126:
                size, at = (struct.unpack("!H", buffer[2:4])[0], 4) if len(buffer) >= 4 else (-1, 0)
            elif size == 127:
                size, at = (struct.unpack("!Q", buffer[2:10])[0], 10) if len(buffer) >= 10 else (-1, 0)
            if size < 0 or len(buffer) < at + size:
                break  # the rest of this frame is still on its way
            if opcode == 0x8:
                return int(struct.unpack("!H", buffer[at:at + 2])[0]) if size >= 2 else None
            buffer = buffer[at + size:]


async def _connections(client: httpx.AsyncClient, article_id: str, token: str) -> int:
    r = await client.get(f"/articles/{article_id}/presence", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return sum(e["connections"] for e in r.json()["editors"])


async def test_a_client_that_stops_reading_is_closed_and_holds_nobody_up(runtime: Runtime) -> None:
    owner = await make_user(runtime, "owner")
    article_id = await make_article(runtime, owner, title="Busy", content="Start. ")
    runtime.settings.collab_queue_size = 10
    async with serve_app(genflow_app(runtime)) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post("/auth/login", json={"username": "owner", "password": PASSWORD})
        token = r.json()["access_token"]
        path = f"/ws/articles/{article_id}?token={token}"
        url = base.replace("http://", "ws://") + f"/ws/articles/{article_id}"
        slow = await _stalled_client(int(base.rsplit(":", 1)[1]), path)

        writer = Editor(await _connect(url, token))
        reader = Editor(await _connect(url, token))
        for editor in (writer, reader):
            await asyncio.wait_for(editor.synced.wait(), 30)
        assert await _connections(client, article_id, token) == 3

        # chunks typed and deleted again (the text stays small, the frames do not): the reader gets each one
        # while the slow client reads nothing, until the server gives up on the slow one (it leaves the room)
        for k in range(MAX_CHUNKS):
            piece = f"[c{k}]" + "x" * CHUNK
            await writer.append(piece)
            await reader.wait_for(f"[c{k}]", timeout=60)
            await writer.delete(piece)
            if k % 10 == 9 and await _connections(client, article_id, token) == 2:
                break
        else:
            raise AssertionError(f"the slow client was not dropped after {MAX_CHUNKS} chunks")

        # once it reads again it gets what was already on its way, then the close code
        try:
            assert await _close_code(slow) == CLOSE_TOO_SLOW
        finally:
            slow.close()

        # the others carry on and hold the same text
        await writer.append("[after]")
        await reader.wait_for("[after]", timeout=60)
        assert str(reader.text) == str(writer.text) == "Start. [after]"
        for editor in (writer, reader):
            editor.task.cancel()
            await editor.ws.close()
