"""Serving a fake provider app with uvicorn in a background thread on a real socket.

    state = DashScopeFake(api_key="k")
    with FakeServer(create_app(state)) as server:
        client_base_url = server.url          # http://127.0.0.1:<free port>
        state.fail(429, retry_after=0)        # fault switches live on the state object

The fault plan and request log shared by all fakes are :class:`tests.fakes.openai_like.FakeState` and its
``Recorder`` wrapper.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class FakeServer:
    """Run an ASGI app on ``host:port`` (port 0 = a free one) in a daemon thread until ``stop()``."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, ws: str = "auto") -> None:
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws=ws, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> FakeServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name=f"fake-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
