"""A fake ComfyUI server (HTTP and WebSocket on one port) that replays the protocol recorded from ComfyUI 0.3.64
(the recorded exchanges are copied in tests/fakes/comfyui_traces/):

- ``POST /prompt`` validates the graph like ``validate_prompt`` (400 bodies with ``node_errors``; invalid JSON
  → 500 text; a foreign ``Origin`` → 403), accepts a client-chosen ``prompt_id``, counts ``number`` on every
  POST, and broadcasts ``status`` twice per prompt (queued, taken);
- the worker runs nodes dependencies-first, sending ``execution_start``, ``execution_cached``, per node
  ``progress_state`` / ``executing`` / ``progress`` (+ binary preview frames) / ``executed``, then
  ``execution_success``, ``status`` and finally ``executing {node: null}``; only the newest socket of the
  prompt's ``client_id`` hears them (``status`` goes to everyone);
- ``POST /interrupt`` (targeted by ``prompt_id`` or not) lands at the next node start or progress step and
  yields ``execution_interrupted``; ``/history``, ``/view`` (with its 400/403/404 rules), ``/queue`` and the
  ``/api/…`` aliases behave as recorded.

Switches (on :class:`ComfyFake`): the shared ``fail``/``slow``/``malformed`` plan for HTTP, ``fail_next_execution``
(an ``execution_error`` at a node class), ``step_seconds`` (time per sampler step), ``hold`` (prompts stay
pending), ``drop_sockets`` (close every socket once execution starts) and ``lose_outputs`` (``/view`` 404s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from tests.fakes.comfyui_nodes import (
    NODES,
    execution_order,
    is_link,
    png,
    preview_frame,
    progress_state,
    with_metadata,
)
from tests.fakes.openai_like import FakeState


def comfy_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"type": code, "message": message, "details": "", "extra_info": {}}, "node_errors": {}}


def _now_ms() -> int:
    return int(time.time() * 1000)


class Interrupted(Exception):
    pass


class ExecutionFailed(Exception):
    def __init__(self, node_type: str, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.node_type, self.exception_type, self.message = node_type, exception_type, message


@dataclass
class QueuedPrompt:
    number: float
    prompt_id: str
    graph: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]

    def item(self) -> list[Any]:
        return [self.number, self.prompt_id, self.graph, self.extra_data, self.outputs]


@dataclass
class ComfyFake(FakeState):
    step_seconds: float = 0.005
    hold: bool = False
    drop_sockets: bool = False
    lose_outputs: bool = False
    send_previews: bool = True
    metadata_sockets: set[int] = field(default_factory=set)
    sockets: dict[str, list[WebSocket]] = field(default_factory=dict)
    pending: list[QueuedPrompt] = field(default_factory=list)
    running: QueuedPrompt | None = None
    current_node: str | None = None
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    number: int = 0
    _counters: dict[str, int] = field(default_factory=dict)
    _interrupt: bool = False
    _next_failure: tuple[str, str, str] | None = None
    _wake: asyncio.Event | None = None
    _worker: asyncio.Task[None] | None = None

    def fail_next_execution(self, node_class: str = "KSampler", exception_type: str = "torch.OutOfMemoryError",
                            message: str = "Allocation on device 0 would exceed allowed memory. (out of memory)") -> None:
        self._next_failure = (node_class, exception_type, message)

    def release(self) -> None:
        """Stop holding prompts: the worker takes the pending ones."""
        self.hold = False
        if self._wake is not None:
            self._wake.set()

    def queue_remaining(self) -> int:
        return len(self.pending) + (1 if self.running else 0)

    # --- sockets ----------------------------------------------------------------------------------------------

    async def send(self, client_id: str | None, message: dict[str, Any] | bytes) -> None:
        """To the newest socket of ``client_id`` only (older sockets of the same id go silent)."""
        targets = self.sockets.get(client_id or "", [])
        if not targets:
            return
        with contextlib.suppress(Exception):
            if isinstance(message, bytes):
                if id(targets[-1]) in self.metadata_sockets and message[:4] == (1).to_bytes(4, "big"):
                    message = with_metadata(message[8:], self.running)
                await targets[-1].send_bytes(message)
            else:
                await targets[-1].send_text(json.dumps(message))

    async def broadcast_status(self) -> None:
        text = json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": self.queue_remaining()}}}})
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                with contextlib.suppress(Exception):
                    await ws.send_text(text)

    # --- worker -----------------------------------------------------------------------------------------------

    def ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._run_forever())

    async def _run_forever(self) -> None:
        assert self._wake is not None
        while True:
            if self.hold or not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            self.pending.sort(key=lambda p: p.number)
            self.running = self.pending.pop(0)
            self._interrupt = False
            try:
                await self._execute(self.running)
            finally:
                self.running = None
                self.current_node = None

    async def _execute(self, item: QueuedPrompt) -> None:
        client = item.extra_data.get("client_id")
        pid = item.prompt_id
        await self.broadcast_status()  # the second status: the worker took the item
        messages: list[list[Any]] = []

        async def emit(kind: str, data: dict[str, Any], *, record: bool = False) -> None:
            if record:
                messages.append([kind, data])
            await self.send(client, {"type": kind, "data": data})

        await emit("execution_start", {"prompt_id": pid, "timestamp": _now_ms()}, record=True)
        await emit("execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": _now_ms()}, record=True)
        if self.drop_sockets:
            for ws in self.sockets.pop(client or "", []):
                with contextlib.suppress(Exception):
                    await ws.close()
        order = execution_order(item.graph, item.outputs)
        values: dict[str, dict[str, Any]] = {}
        states: dict[str, dict[str, Any]] = {}
        outputs: dict[str, Any] = {}
        executed: list[str] = []
        failure = self._next_failure
        self._next_failure = None
        status_str, final = "success", "execution_success"
        try:
            for node_id in order:
                node = item.graph[node_id]
                states[node_id] = progress_state(pid, node_id, 0.0, 1.0, "running")
                await emit("progress_state", {"prompt_id": pid, "nodes": dict(states)})
                self.current_node = node_id
                await emit("executing", {"node": node_id, "display_node": node_id, "prompt_id": pid})
                if self._interrupt:
                    raise Interrupted(node_id)
                if failure and node["class_type"] == failure[0]:
                    raise ExecutionFailed(*failure)
                result = await self._run_node(item, node_id, values, states, emit)
                values[node_id] = result
                executed.append(node_id)
                states[node_id] = progress_state(pid, node_id, 1.0, 1.0, "finished")
                if NODES[node["class_type"]].output and "ui" in result:
                    outputs[node_id] = result["ui"]
                    await emit("executed", {"node": node_id, "display_node": node_id, "output": result["ui"],
                                            "prompt_id": pid})
                await emit("progress_state", {"prompt_id": pid, "nodes": dict(states)})
            await emit("execution_success", {"prompt_id": pid, "timestamp": _now_ms()}, record=True)
        except Interrupted as exc:
            status_str, final, outputs = "error", "execution_interrupted", {}
            node_id = str(exc)
            await emit("execution_interrupted", {"prompt_id": pid, "node_id": node_id,
                                                 "node_type": item.graph[node_id]["class_type"],
                                                 "executed": list(reversed(executed)), "timestamp": _now_ms()}, record=True)
        except ExecutionFailed as exc:
            status_str, final, outputs = "error", "execution_error", {}
            node_id = self.current_node or ""
            await emit("execution_error", {
                "prompt_id": pid, "node_id": node_id, "node_type": exc.node_type, "executed": executed,
                "exception_message": exc.message, "exception_type": exc.exception_type,
                "traceback": ['  File "/opt/ComfyUI/execution.py", line 496, in execute\n    <source line omitted>\n'],
                "current_inputs": {k: [repr(v)] for k, v in (item.graph[node_id].get("inputs") or {}).items()},
                "current_outputs": [node_id, *executed], "timestamp": _now_ms()}, record=True)
        self.history[pid] = {
            "prompt": item.item(), "outputs": outputs,
            "status": {"status_str": status_str, "completed": final == "execution_success", "messages": messages},
            "meta": {n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n} for n in outputs},
        }
        self.running = None
        await self.broadcast_status()
        await self.send(client, {"type": "executing", "data": {"node": None, "prompt_id": pid}})

    async def _run_node(self, item: QueuedPrompt, node_id: str, values: dict[str, dict[str, Any]],
                        states: dict[str, dict[str, Any]], emit: Any) -> dict[str, Any]:
        node = item.graph[node_id]
        kind = node["class_type"]
        inputs = {k: (values[v[0]] if is_link(v) else v) for k, v in (node.get("inputs") or {}).items()}
        pid = item.prompt_id
        if kind == "CLIPTextEncode":
            return {"text": str(inputs["text"])}
        if kind in ("EmptyLatentImage", "EmptyImage"):
            return {"width": int(inputs["width"]), "height": int(inputs["height"]), "batch": int(inputs["batch_size"]),
                    "seed": int(inputs.get("color", 0)), "text": ""}
        if kind == "KSampler":
            latent, steps = dict(inputs["latent_image"]), int(inputs["steps"])
            for step in range(1, steps + 1):
                await asyncio.sleep(self.step_seconds)
                if self._interrupt:
                    raise Interrupted(node_id)
                states[node_id] = progress_state(pid, node_id, step, steps, "running")
                await emit("progress_state", {"prompt_id": pid, "nodes": dict(states)})
                await emit("progress", {"value": step, "max": steps, "prompt_id": pid, "node": node_id})
                if self.send_previews:
                    await self.send(item.extra_data.get("client_id"), preview_frame(latent["width"], latent["height"]))
            latent.update(seed=int(inputs["seed"]), text=inputs["positive"]["text"])
            return latent
        if kind == "VAEDecode":
            return dict(inputs["samples"])
        if kind == "ImageBlur":
            await asyncio.sleep(self.step_seconds)
            return dict(inputs["image"])
        if kind in ("SaveImage", "PreviewImage"):
            return {"ui": {"images": self._save(item, inputs, temp=kind == "PreviewImage")}}
        if kind == "SaveImageWebsocket":
            image = inputs["images"]
            for i in range(image["batch"]):
                states[node_id] = progress_state(pid, node_id, i, image["batch"], "running")
                await emit("progress_state", {"prompt_id": pid, "nodes": dict(states)})
                await emit("progress", {"value": i, "max": image["batch"], "prompt_id": pid, "node": node_id})
                await self.send(item.extra_data.get("client_id"), preview_frame(image["width"], image["height"]))
                if self._interrupt:
                    raise Interrupted(node_id)
            return {}
        return {}

    def _save(self, item: QueuedPrompt, inputs: dict[str, Any], *, temp: bool) -> list[dict[str, str]]:
        image = inputs["images"]
        prefix = str(inputs.get("filename_prefix", "ComfyUI")) if not temp else "ComfyUI_temp_fake"
        if ".." in prefix or prefix.startswith("/"):
            # as recorded (08-errors): the real server names its own folders in the message
            raise ExecutionFailed("SaveImage", "Exception",
                                  "**** ERROR: Saving image outside the output folder is not allowed.\n"
                                  " full_output_folder: /opt\n         output_dir: /opt/ComfyUI/output\n"
                                  "         commonpath: /opt\n")
        saved = []
        kind = "temp" if temp else "output"
        for i in range(image["batch"]):
            self._counters[prefix] = self._counters.get(prefix, 0) + 1
            name = f"{prefix}_{self._counters[prefix]:05d}_.png"
            self.files[(kind, "", name)] = png(image["width"], image["height"], image["seed"] + i, image["text"],
                                               item.graph)
            saved.append({"filename": name, "subfolder": "", "type": kind})
        return saved
