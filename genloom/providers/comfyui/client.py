"""ImageProvider for a ComfyUI server: build the graph from a workflow template, ``POST /prompt`` with our
``client_id``, follow the prompt over ``/ws?clientId=`` (sampler steps → progress, node classes → phase),
then read ``/history/{prompt_id}`` and fetch each output image with ``/view``.

- The socket is opened *before* the prompt is queued, so no message of ours can be missed. If it cannot be
  opened, or drops, the client polls ``/history/{prompt_id}`` instead (ComfyUI keeps history in memory).
- Cancel: when the job is canceled our asyncio task is cancelled (or the progress callback raises); the prompt
  is then removed from the queue (``POST /queue {"delete": [id]}``, a no-op once it runs) and, if it already
  started, interrupted with ``POST /interrupt {"prompt_id": id}``. The targeted form never stops another
  caller's prompt on ComfyUI versions that know it; we only send it once our prompt is known to run.
- Outputs come from a host the operator configured, so it is added to the download allow-list for these
  fetches (a ComfyUI on the LAN works without listing it in ``GENLOOM_DOWNLOAD_ALLOW_HOSTS``).
- Phase: while a node runs, the progress callback's phase is that node's title (``_meta.title``), else its class,
  so a job shows "KSampler" or "Load Checkpoint". A template with no prompt input says so in its first phase.
- Error text from the server (validation, ``execution_error``) can name files on its host; clients get it with
  those paths cut to the file name (:func:`strip_host_paths`), the log line keeps the full text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from genloom.core.aio import run_to_end
from genloom.core.settings import Settings
from genloom.providers.base import (
    GeneratedMedia,
    ImageRequest,
    ImageResult,
    ProgressFn,
    ProviderError,
    strip_host_paths,
)
from genloom.providers.comfyui.events import CLOSED, EventStream, PromptWatch, node_label, open_events
from genloom.providers.comfyui.templates import Workflow
from genloom.providers.download import download
from genloom.providers.http import call, make_client
from genloom.providers.resilience import ProviderGuard

log = logging.getLogger("genloom.providers.comfyui")

PROVIDER = "comfyui"
DEFAULT_WORKFLOW = "sdxl"
#: how long to wait for one socket message before checking /history anyway (a stalled or silent socket)
QUIET_SECONDS = 15.0
#: polling /history when there is no socket
HISTORY_POLL_SECONDS = 1.0
#: the first phase of a prompt from a template that has no prompt input
NO_PROMPT_PHASE = "queued (template takes no prompt)"


def failure(code: str, text: str, *, retryable: bool, operation: str) -> ProviderError:
    """A ProviderError whose message has the server's host paths removed; the full text is logged here only."""
    log.warning("provider=%s op=%s error=%s detail=%s", PROVIDER, operation, code, text)
    return ProviderError(strip_host_paths(text), provider=PROVIDER, code=code, retryable=retryable)


def prompt_error(data: Any) -> tuple[str | None, str | None]:
    """``POST /prompt`` 400: ``{"error": {type, message, details}, "node_errors": {id: {errors: [...]}}}``."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None, None
    err = data["error"]
    parts = [str(err.get("message") or "invalid prompt")]
    if err.get("details"):
        parts.append(str(err["details"]))
    for node_id, info in (data.get("node_errors") or {}).items():
        for item in (info.get("errors") or [])[:3]:
            parts.append(f"node {node_id} ({info.get('class_type')}): {item.get('message')}: {item.get('details')}")
    return str(err.get("type") or "invalid_prompt"), "; ".join(parts)


def _prompt_error_parser(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        code, message = prompt_error(response.json())
    except ValueError:
        return None, None
    if message is not None and strip_host_paths(message) != message:
        log.warning("provider=%s op=image.submit status=%d error=%s detail=%s", PROVIDER, response.status_code,
                    code, message)
        message = strip_host_paths(message)
    return code, message


class ComfyUIImage:
    """ImageProvider over a ComfyUI server and its workflow templates."""

    name = PROVIDER

    def __init__(self, settings: Settings, *, guard: ProviderGuard, workflows: dict[str, Workflow],
                 default_workflow: str = DEFAULT_WORKFLOW, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.guard = guard
        self.workflows = workflows
        self.default_workflow = default_workflow
        #: what GET /v1/providers shows as the model: the default workflow template
        self.model = default_workflow
        self.base = settings.comfyui_url.rstrip("/")
        self.ws_base = "ws" + self.base[4:] if self.base.startswith("http") else self.base
        self.http = http or make_client(settings)
        self.timeout = settings.task_timeout_seconds
        host = urlsplit(self.base).hostname or ""
        self._download_settings = settings.model_copy(
            update={"download_allow_hosts": [*settings.download_allow_hosts, host]})

    async def aclose(self) -> None:
        await self.http.aclose()

    def workflow(self, name: str | None) -> Workflow:
        chosen = name or self.default_workflow
        found = self.workflows.get(chosen)
        if found is None:
            raise ProviderError(f"{PROVIDER}: unknown workflow {chosen!r}; available: {', '.join(sorted(self.workflows))}",
                                provider=PROVIDER, code="unknown_workflow", retryable=False)
        return found

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult:
        workflow = self.workflow(request.workflow or request.model)
        seed = request.seed if request.seed is not None else workflow.defaults.get("seed")
        if seed is None:
            seed = random.randint(0, 2**31 - 1)
        # an unstated size is the template's (its defaults, else its own graph), never a forced 1024×1024
        width, height = (None, None) if request.size_is_default else (request.width, request.height)
        graph = workflow.build(prompt=request.prompt, negative_prompt=request.negative_prompt, seed=seed,
                               width=width, height=height, steps=request.steps,
                               batch_size=max(1, request.count), cfg=request.extra.get("cfg"))
        first_phase = "queued"
        if not workflow.takes_prompt:
            first_phase = NO_PROMPT_PHASE
            log.info("provider=%s op=image.submit workflow=%s prompt=not_injected (the template has no prompt input)",
                     PROVIDER, workflow.name)
        client_id = uuid.uuid4().hex
        watch = PromptWatch(prompt_id=str(uuid.uuid4()))
        async with open_events(f"{self.ws_base}/ws?clientId={client_id}",
                               open_timeout=self.settings.provider_connect_timeout) as events:
            if progress is not None:
                await progress(0.02, first_phase)
            body = {"prompt": graph, "client_id": client_id, "prompt_id": watch.prompt_id}
            finished = False
            try:
                queued = await call(self.guard, self.http, "image.submit", "POST", f"{self.base}/prompt",
                                    json=body, idempotent=False, parse_error=_prompt_error_parser)
                # older servers ignore a client-chosen id and answer their own
                watch.prompt_id = str(queued.get("prompt_id") or watch.prompt_id)
                await self._follow(watch, graph, events, progress)
                finished = True
            except ProviderError as exc:
                if exc.code == "provider_bad_request":
                    finished = True  # refused by validation: nothing was queued
                raise
            finally:
                if not finished:
                    # canceled (even while the submit was in flight: our prompt id is known either way), timed
                    # out, or the server stopped answering: the prompt must not run on unattended
                    await run_to_end(self.cancel(watch))
        entry = await self._history(watch, wait=True)
        assert entry is not None  # wait=True raises instead
        self._raise_for(entry, watch)
        if progress is not None:
            await progress(0.92, "downloading")
        images = [await self._fetch(ref, seed + i) for i, ref in enumerate(self._output_refs(entry, watch))]
        if not images:
            raise ProviderError(f"{PROVIDER}: workflow {workflow.name!r} produced no output image", provider=PROVIDER,
                                code="provider_no_output", retryable=False)
        return ImageResult(images=images, provider=PROVIDER, model=workflow.name)

    async def _follow(self, watch: PromptWatch, graph: dict[str, Any], events: EventStream | None,
                      progress: ProgressFn | None) -> None:
        deadline = time.monotonic() + self.timeout
        phase: str | None = "queued"
        share = 0.02
        while not watch.done:
            if time.monotonic() > deadline:
                raise ProviderError(f"{PROVIDER}: prompt did not finish within {self.timeout:.0f}s", provider=PROVIDER,
                                    code="provider_timeout", retryable=True)
            if events is None:
                if await self._history(watch, wait=False):
                    return
                await self._raise_if_forgotten(watch)
                await asyncio.sleep(HISTORY_POLL_SECONDS)
                continue
            message = await events.next(min(QUIET_SECONDS, max(0.1, deadline - time.monotonic())))
            if message is CLOSED:
                log.warning("provider=%s op=image.follow outcome=socket_closed; polling history", PROVIDER)
                events = None
                continue
            if message is None:
                if await self._history(watch, wait=False):
                    return
                continue
            news = watch.apply(message)
            if news is None or progress is None:
                continue
            fraction, node = news
            if node and node in graph:
                phase = node_label(graph[node])
            # queued 0–10 %, running 10–90 %: sampler steps dominate, other nodes are quick (and never move
            # the bar backwards)
            share = max(share, 0.1 if fraction is None else 0.1 + 0.8 * fraction)
            await progress(share, phase)

    async def _history(self, watch: PromptWatch, *, wait: bool) -> dict[str, Any] | None:
        """Our history entry; ``wait`` retries briefly while it is still empty (it lands just after the last
        socket message)."""
        for _ in range(20 if wait else 1):
            data = await call(self.guard, self.http, "image.history", "GET", f"{self.base}/history/{watch.prompt_id}")
            entry = data.get(watch.prompt_id) if isinstance(data, dict) else None
            if isinstance(entry, dict):
                return entry
            if wait:
                await asyncio.sleep(0.25)
        if wait:
            raise ProviderError(f"{PROVIDER}: the prompt finished but has no history entry", provider=PROVIDER,
                                code="provider_bad_response", retryable=True)
        return None

    async def _raise_if_forgotten(self, watch: PromptWatch) -> None:
        """Raise when the server knows our prompt no more: neither queued, running nor in its history. ComfyUI
        keeps both in memory, so a restart forgets them; waiting on would last until the task timeout.

        The queue is read before the history: a prompt leaves the queue only after its history entry is written,
        so "not queued, then not in history" cannot be a prompt that just finished."""
        queue = await call(self.guard, self.http, "image.queue", "GET", f"{self.base}/queue")
        items = [*(queue.get("queue_running") or []), *(queue.get("queue_pending") or [])] if isinstance(queue, dict) else []
        if any(isinstance(item, list) and len(item) > 1 and item[1] == watch.prompt_id for item in items):
            return
        if await self._history(watch, wait=False):
            return
        # a restart is the provider's outage, not the job's fault: the queue resubmits without counting an attempt
        raise ProviderError(f"{PROVIDER}: the server no longer knows the prompt (it restarted?)", provider=PROVIDER,
                            code="provider_lost_task", retryable=True, outage=True)

    def _raise_for(self, entry: dict[str, Any], watch: PromptWatch) -> None:
        status: dict[str, Any] = entry["status"] if isinstance(entry.get("status"), dict) else {}
        if status.get("status_str", "success") == "success" and watch.error is None and watch.interrupted is None:
            return
        messages = status.get("messages") or []
        last = {kind: data for kind, data in (m for m in messages if isinstance(m, list) and len(m) == 2)}
        error: dict[str, Any] = watch.error or last.get("execution_error") or {}
        interrupted: dict[str, Any] = watch.interrupted or last.get("execution_interrupted") or {}
        if error:
            node_type = error.get("node_type") or "node"
            kind = str(error.get("exception_type") or "")
            reason = str(error.get("exception_message") or "execution failed").strip()
            # running out of (GPU) memory may pass once other work finishes; anything else will fail again
            retry = "OutOfMemory" in kind or "out of memory" in reason.lower()
            raise failure("provider_execution_error", f"{PROVIDER}: {node_type} failed: {kind + ': ' if kind else ''}{reason}",
                          retryable=retry, operation="image.follow")
        if interrupted:
            raise ProviderError(f"{PROVIDER}: the prompt was interrupted at {interrupted.get('node_type')}",
                                provider=PROVIDER, code="provider_canceled", retryable=False)
        raise ProviderError(f"{PROVIDER}: the prompt ended with status {status.get('status_str')!r}",
                            provider=PROVIDER, code="provider_execution_error", retryable=False)

    def _output_refs(self, entry: dict[str, Any], watch: PromptWatch) -> list[dict[str, Any]]:
        outputs = entry.get("outputs") or watch.outputs
        refs: list[dict[str, Any]] = []
        for node_id in sorted(outputs, key=lambda n: (len(str(n)), str(n))):
            for key in ("images", "gifs", "videos"):
                for ref in outputs[node_id].get(key) or []:
                    if isinstance(ref, dict) and ref.get("filename") and ref.get("type", "output") == "output":
                        refs.append(ref)
        return refs

    async def _fetch(self, ref: dict[str, Any], seed: int) -> GeneratedMedia:
        query = urlencode({"filename": ref["filename"], "subfolder": ref.get("subfolder", ""),
                           "type": ref.get("type", "output")})
        got = await download(f"{self.base}/view?{query}", settings=self._download_settings, guard=self.guard,
                             client=self.http, accept=("image/", "video/"), operation="image.view")
        width = height = None
        if got.mime == "image/png" and len(got.data) >= 24:
            width, height = int.from_bytes(got.data[16:20], "big"), int.from_bytes(got.data[20:24], "big")
        return GeneratedMedia(data=got.data, mime=got.mime, width=width, height=height, seed=seed)

    async def cancel(self, watch: PromptWatch) -> None:
        """Take our prompt off the queue, and interrupt it if it already runs; never raises.

        Sent directly, not through the guard: a clean-up must neither be refused by an open breaker nor count
        as the provider's recovery."""
        if not watch.prompt_id:
            return
        outcome = []
        with contextlib.suppress(Exception):
            response = await self.http.post(f"{self.base}/queue", json={"delete": [watch.prompt_id]}, timeout=10)
            outcome.append(f"dequeue={response.status_code}")
        if watch.started:
            with contextlib.suppress(Exception):
                response = await self.http.post(f"{self.base}/interrupt", json={"prompt_id": watch.prompt_id},
                                                timeout=10)
                outcome.append(f"interrupt={response.status_code}")
        log.info("provider=%s op=image.cancel started=%s %s", PROVIDER, watch.started, " ".join(outcome))
