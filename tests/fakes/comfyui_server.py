"""The fake ComfyUI server's HTTP routes and WebSocket (see :mod:`tests.fakes.comfyui` for the protocol it
replays); the prompt queue and node execution live in :class:`~tests.fakes.comfyui.ComfyFake`."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.comfyui import ComfyFake, QueuedPrompt, comfy_error
from tests.fakes.comfyui_nodes import NODES, validate_prompt
from tests.fakes.openai_like import Recorder


def create_app(state: ComfyFake) -> Recorder:
    async def post_prompt(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            return Response(b"", 403)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("500 Internal Server Error\n\nServer got itself in trouble", 500,
                                     headers={"Connection": "close"})
        if "prompt" not in body:
            return JSONResponse({"error": {"type": "no_prompt", "message": "No prompt provided",
                                           "details": "No prompt provided", "extra_info": {}}, "node_errors": {}}, 400)
        number: float = state.number
        state.number += 1
        if "number" in body:
            number = float(body["number"])
        elif body.get("front"):
            number = -number
        graph = body["prompt"]
        problem, outputs = validate_prompt(graph)
        if problem is not None:
            return JSONResponse(problem, 400)
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        if body.get("client_id"):
            extra["client_id"] = body["client_id"]
        state.pending.append(QueuedPrompt(number, prompt_id, graph, extra, outputs))
        state.ensure_worker()
        await state.broadcast_status()
        if state._wake is not None and not state.hold:
            state._wake.set()
        return JSONResponse({"prompt_id": prompt_id, "number": number, "node_errors": {}})

    async def get_prompt(request: Request) -> Response:
        return JSONResponse({"exec_info": {"queue_remaining": state.queue_remaining()}})

    async def interrupt(request: Request) -> Response:
        raw = await request.body()
        target = None
        with contextlib.suppress(ValueError, AttributeError):
            target = json.loads(raw).get("prompt_id") if raw else None
        if state.running is not None and (target is None or target == state.running.prompt_id):
            state._interrupt = True
        return Response(b"", 200)

    async def get_queue(request: Request) -> Response:
        running = [state.running.item()] if state.running else []
        return JSONResponse({"queue_running": running, "queue_pending": [p.item() for p in state.pending]})

    async def post_queue(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        if body.get("clear"):
            state.pending.clear()
        for pid in body.get("delete") or []:
            state.pending = [p for p in state.pending if p.prompt_id != pid]
        await state.broadcast_status()
        return Response(b"", 200)

    async def get_history(request: Request) -> Response:
        pid = request.path_params.get("prompt_id")
        if pid is not None:
            entry = state.history.get(pid)
            return JSONResponse({pid: entry} if entry else {})
        items = list(state.history.items())
        max_items = request.query_params.get("max_items")
        if max_items:
            items = items[-int(max_items):]
        return JSONResponse(dict(items))

    async def post_history(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        if body.get("clear"):
            state.history.clear()
        for pid in body.get("delete") or []:
            state.history.pop(pid, None)
        return Response(b"", 200)

    async def view(request: Request) -> Response:
        q = request.query_params
        filename = q.get("filename")
        if not filename:
            return Response(b"", 404)
        kind = q.get("type", "output") or "output"
        subfolder = q.get("subfolder", "")
        if filename.startswith("/") or ".." in filename or kind not in ("input", "temp", "output"):
            return Response(b"", 400)
        if ".." in subfolder or subfolder.startswith("/"):
            return Response(b"", 403)
        data = None if state.lose_outputs else state.files.get((kind, subfolder, filename))
        if data is None:
            return Response(b"", 404)
        return Response(data, media_type="image/png", headers={"Content-Disposition": f'filename="{filename}"',
                                                               "Accept-Ranges": "bytes"})

    async def system_stats(request: Request) -> Response:
        return JSONResponse({"system": {"os": "posix", "ram_total": 25769803776, "ram_free": 20000000000,
                                        "comfyui_version": "0.3.64", "python_version": "3.11.7",
                                        "pytorch_version": "2.13.0+cpu", "embedded_python": False,
                                        "argv": ["main.py", "--cpu"]},
                             "devices": [{"name": "cpu", "type": "cpu", "index": None, "vram_total": 0, "vram_free": 0,
                                          "torch_vram_total": 0, "torch_vram_free": 0}]})

    async def object_info(request: Request) -> Response:
        wanted = request.path_params.get("node_class")
        names = [wanted] if wanted else list(NODES)
        return JSONResponse({n: {"name": n, "output_node": NODES[n].output,
                                 "input": {"required": {k: [v] if isinstance(v, list) else [v]
                                                        for k, v in NODES[n].inputs.items()}}}
                             for n in names if n in NODES})

    async def features(request: Request) -> Response:
        return JSONResponse({"supports_preview_metadata": True, "max_upload_size": 104857600})

    async def free(request: Request) -> Response:
        return Response(b"", 200)

    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        client_id = ws.query_params.get("clientId") or uuid.uuid4().hex
        state.sockets.setdefault(client_id, []).append(ws)
        await ws.send_text(json.dumps({"type": "status", "data": {
            "status": {"exec_info": {"queue_remaining": state.queue_remaining()}}, "sid": client_id}}))
        running = state.running
        if running is not None and running.extra_data.get("client_id") == client_id and state.current_node:
            await ws.send_text(json.dumps({"type": "executing", "data": {"node": state.current_node}}))
        try:
            while True:
                text = await ws.receive_text()
                with contextlib.suppress(ValueError):
                    message = json.loads(text)
                    if message.get("type") == "feature_flags":
                        state.metadata_sockets.add(id(ws))
                        await ws.send_text(json.dumps({"type": "feature_flags", "data": {
                            "supports_preview_metadata": True, "max_upload_size": 104857600}}))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sockets = state.sockets.get(client_id, [])
            if ws in sockets:
                sockets.remove(ws)

    http_routes = [
        ("/prompt", post_prompt, ["POST"]), ("/prompt", get_prompt, ["GET"]), ("/interrupt", interrupt, ["POST"]),
        ("/queue", get_queue, ["GET"]), ("/queue", post_queue, ["POST"]), ("/history", get_history, ["GET"]),
        ("/history/{prompt_id}", get_history, ["GET"]), ("/history", post_history, ["POST"]),
        ("/view", view, ["GET"]), ("/system_stats", system_stats, ["GET"]), ("/object_info", object_info, ["GET"]),
        ("/object_info/{node_class}", object_info, ["GET"]), ("/features", features, ["GET"]),
        ("/free", free, ["POST"]),
    ]
    routes: list[Any] = []
    for prefix in ("", "/api"):
        routes += [Route(prefix + path, fn, methods=methods) for path, fn, methods in http_routes]
        routes.append(WebSocketRoute(prefix + "/ws", websocket))
    return Recorder(Starlette(routes=routes), state, comfy_error)
