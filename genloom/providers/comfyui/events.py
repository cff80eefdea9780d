"""Following one prompt over ComfyUI's WebSocket (``/ws?clientId=…``).

What the server sends (recorded from ComfyUI 0.3.64): ``status`` (broadcast), then for our prompt
``execution_start``, ``execution_cached``, per node ``executing`` / ``progress`` {value, max} /
``progress_state`` / ``executed``, and finally ``execution_success`` (or ``execution_error`` /
``execution_interrupted``) followed by ``executing {node: null}``. Binary frames are preview images and are
ignored. History is written just before that final ``executing``, so completion is taken from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

#: largest WebSocket frame accepted (preview images arrive as binary frames)
MAX_FRAME = 32 * 1024 * 1024
CLOSED = object()
#: the socket library logs every frame at DEBUG, and frames carry prompt text (``execution_error`` repeats a node's
#: inputs): its logger is pinned at INFO so debug logging can never leak user content
SOCKET_LOG = logging.getLogger("genloom.providers.comfyui.socket")
SOCKET_LOG.setLevel(logging.INFO)


def node_label(node: dict[str, Any]) -> str:
    """What a job's phase shows while ``node`` runs: its title in the graph (``_meta.title``), else its class."""
    meta = node.get("_meta")
    title = str(meta.get("title") or "").strip() if isinstance(meta, dict) else ""
    return (title or str(node.get("class_type") or "node"))[:80]


@dataclass
class PromptWatch:
    """What is known about our prompt from its messages."""

    prompt_id: str | None = None
    started: bool = False
    success: bool = False
    done: bool = False
    error: dict[str, Any] | None = None
    interrupted: dict[str, Any] | None = None
    node: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def apply(self, message: dict[str, Any]) -> tuple[float | None, str | None] | None:
        """Fold one message in; return (fraction of the current node, node id) when it is progress news."""
        kind = message.get("type")
        data = message.get("data")
        if not isinstance(data, dict):
            return None
        pid = data.get("prompt_id")
        if pid is not None and pid != self.prompt_id:
            return None  # another prompt of this server (or an earlier one of this client id)
        if kind == "execution_start":
            self.started = True
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                if pid == self.prompt_id:
                    self.done = True
                return None
            self.started = True
            self.node = str(node)
            return (None, self.node)
        elif kind == "progress":
            value, maximum = data.get("value"), data.get("max")
            if isinstance(value, (int, float)) and isinstance(maximum, (int, float)) and maximum > 0:
                return (min(1.0, float(value) / float(maximum)), str(data.get("node") or self.node or ""))
        elif kind == "executed":
            if isinstance(data.get("output"), dict):
                self.outputs[str(data.get("node"))] = data["output"]
        elif kind == "execution_success":
            self.success = True
        elif kind == "execution_error":
            self.error = data
            self.done = True
        elif kind == "execution_interrupted":
            self.interrupted = data
            self.done = True
        return None


class EventStream:
    """A WebSocket to ComfyUI whose text messages are queued by a reader task (so none are lost while the
    prompt is being submitted); :data:`CLOSED` is queued when the socket ends."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(), name="comfyui-ws")

    async def _read(self) -> None:
        try:
            async for frame in self.socket:
                if isinstance(frame, bytes):
                    continue  # preview image
                with contextlib.suppress(ValueError):
                    message = json.loads(frame)
                    if isinstance(message, dict):
                        self.queue.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.queue.put_nowait(CLOSED)

    async def next(self, timeout: float) -> Any:
        """The next message, :data:`CLOSED`, or None when nothing came within ``timeout`` seconds."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives just as
        # a message does, and a canceled job would then keep following its prompt
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        with contextlib.suppress(Exception):
            await self.socket.close()


@contextlib.asynccontextmanager
async def open_events(ws_url: str, *, open_timeout: float) -> AsyncIterator[EventStream | None]:
    """Connect the socket; yield None when it cannot be opened (the caller falls back to polling history)."""
    try:
        socket = await connect(ws_url, open_timeout=open_timeout, max_size=MAX_FRAME, proxy=None,
                               compression=None, ping_interval=20, ping_timeout=60, logger=SOCKET_LOG)
    except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI):
        yield None
        return
    stream = EventStream(socket)
    try:
        yield stream
    finally:
        await stream.close()
