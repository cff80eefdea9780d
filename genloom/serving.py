"""``genloom serve``'s HTTP server: uvicorn, with a shutdown that lets live clients move to another replica.

On SIGTERM (or SIGINT), within ``GENLOOM_SHUTDOWN_GRACE_SECONDS``:

1. stop listening, so a load balancer's next connection goes to another replica;
2. run the app's graceful-shutdown hook (:func:`genloom.app.create_app`): embedded workers stop claiming and
   start draining, new streams are refused (503), and every open SSE stream and WebSocket gets its protocol's
   final "reconnect elsewhere" frame with the id to resume after (WebSockets then close with 1012);
3. uvicorn's own shutdown: idle keep-alive connections close, in-flight requests finish (for what is left of
   the grace period), any WebSocket not handled above closes with 1012;
4. the app's lifespan ends: the workers release what they could not finish, the hub and pools close.

A shutdown asked for is a success: the process exits 0 (uvicorn alone would re-raise the signal).
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from fastapi import FastAPI

log = logging.getLogger("genloom.serve")

#: the app's graceful-shutdown hook; returns the seconds left of the grace period
ShutdownHook = Callable[[], Awaitable[float]]


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        hook: ShutdownHook | None = self.app.state.begin_shutdown
        remaining = self.grace
        if hook is not None:
            try:
                remaining = await hook()
            except Exception:  # noqa: BLE001 - the rest of the shutdown must still run
                log.exception("serve.shutdown_hook_failed")
        # uvicorn waits this long for in-flight requests (and for streams that ignored the hook) before it
        # cancels them; the workers drain meanwhile, to the same deadline
        self.config.timeout_graceful_shutdown = max(1, math.ceil(remaining))
        await super().shutdown(sockets)
