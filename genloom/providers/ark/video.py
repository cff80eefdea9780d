"""Seedance image-to-video and text-to-video through Ark's content-generation tasks:
``POST /contents/generations/tasks`` → poll ``GET …/tasks/{id}`` (queued → running → succeeded | failed |
cancelled | expired) → download ``content.video_url`` (a signed TOS link valid 24 h).

Cancel: when the caller's asyncio task is cancelled (the job was canceled) or gives up, the task is deleted with
``DELETE …/tasks/{id}`` before the cancellation propagates. Ark only cancels *queued* tasks; a running one
cannot be stopped and is left to finish (its result is simply not fetched).

Knobs go as text commands appended to the prompt (``--ratio 16:9 --resolution 720p --duration 5 --seed 7``):
every Seedance model accepts them, while top-level fields exist only on newer models.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from typing import Any

from genloom.core.aio import run_to_end
from genloom.providers.base import GeneratedMedia, ProgressFn, ProviderError, VideoRequest, VideoResult
from genloom.providers.download import download
from genloom.providers.http import call, openai_error
from genloom.providers.openai.compat import CompatClient, CompatService
from genloom.providers.resilience import classify

log = logging.getLogger("genloom.providers.ark")

TASKS_PATH = "/contents/generations/tasks"
RATIOS = {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"}
RESOLUTIONS = {"480p", "720p", "1080p"}
WAITING = {"queued", "running"}
#: rough share of the wait spent queued vs. generating, for a progress bar that keeps moving (Ark gives none)
EXPECTED_RUN_SECONDS = 90.0


def task_body(model: str, request: VideoRequest) -> dict[str, Any]:
    """The create-task body: the prompt with its text commands, and the first frame when one is given."""
    commands = [f"--resolution {request.resolution if request.resolution in RESOLUTIONS else '720p'}"]
    ratio = request.ratio if request.ratio in RATIOS else "16:9"
    if (request.image is not None or request.image_url) and request.ratio not in RATIOS:
        ratio = "adaptive"  # follow the first frame's shape
    commands.append(f"--ratio {ratio}")
    commands.append(f"--duration {max(1, round(request.duration_s))}")
    if request.seed is not None:
        commands.append(f"--seed {request.seed}")
    content: list[dict[str, Any]] = [{"type": "text", "text": f"{request.prompt.strip()} {' '.join(commands)}"}]
    if request.image_url:
        content.append({"type": "image_url", "image_url": {"url": request.image_url}, "role": "first_frame"})
    elif request.image is not None:
        mime = request.image_mime or "image/png"
        data_url = f"data:{mime};base64,{base64.b64encode(request.image).decode()}"
        content.append({"type": "image_url", "image_url": {"url": data_url}, "role": "first_frame"})
    return {"model": model, "content": content}


class SeedanceVideo(CompatService):
    """VideoProvider: doubao-seedance-1-0-pro-250528 and the other Seedance models (or an ``ep-…`` endpoint)."""

    def __init__(self, client: CompatClient, model: str, *, poll_interval: float, timeout: float) -> None:
        super().__init__(client, model)
        self.poll_interval = poll_interval
        self.timeout = timeout

    async def _call(self, operation: str, method: str, path: str, **kw: Any) -> Any:
        c = self.client
        return await call(c.guard, c.http, operation, method, f"{c.base}{path}", parse_error=openai_error, **kw)

    async def generate(self, request: VideoRequest, *, progress: ProgressFn | None = None) -> VideoResult:
        model = request.model or self.model
        if progress is not None:
            await progress(0.02, "submitting")
        task_id: Any = request.resume_task_id
        if not task_id:
            created = await self._call("video.submit", "POST", TASKS_PATH, json=task_body(model, request),
                                       idempotent=False)
            task_id = created.get("id") if isinstance(created, dict) else None
            if not task_id:
                raise self.client.bad_response("the task creation returned no id")
            if request.on_submitted is not None:
                await request.on_submitted(str(task_id))
        finished = False
        try:
            task = await self._wait(str(task_id), progress)
            finished = True
        finally:
            if not finished:
                # canceled, timed out or polling failed for good: the task must not run on unattended
                await run_to_end(self.cancel(str(task_id)))
        status = str(task.get("status"))
        if status != "succeeded":
            raise self._task_error(str(task_id), status, task)
        content = task.get("content") or {}
        url = content.get("video_url") if isinstance(content, dict) else None
        if not url:
            raise self.client.bad_response("the succeeded task has no content.video_url")
        if progress is not None:
            await progress(0.92, "downloading")
        # no client passed: a fresh one, so the result host (a third party) never sees our Authorization header
        got = await download(str(url), settings=self.client.settings, guard=self.client.guard,
                             accept=("video/",), operation="video.download")
        duration = task.get("duration")
        media = GeneratedMedia(data=got.data, mime=got.mime,
                               duration_ms=int(float(duration) * 1000) if isinstance(duration, (int, float)) else None,
                               seed=task.get("seed") if isinstance(task.get("seed"), int) else None)
        return VideoResult(video=media, provider=self.name, model=str(task.get("model") or model),
                           task_id=str(task_id))

    async def _wait(self, task_id: str, progress: ProgressFn | None) -> dict[str, Any]:
        started = time.monotonic()
        deadline = started + self.timeout
        while True:
            task = await self._call("video.poll", "GET", f"{TASKS_PATH}/{task_id}")
            if not isinstance(task, dict):
                raise self.client.bad_response("the task answer is not an object")
            status = str(task.get("status") or "")
            if status not in WAITING:
                return task
            if progress is not None:
                elapsed = time.monotonic() - started
                share = 0.05 if status == "queued" else 0.1 + 0.8 * min(1.0, elapsed / EXPECTED_RUN_SECONDS)
                await progress(min(0.9, share), "queued" if status == "queued" else "generating")
            if time.monotonic() > deadline:
                raise ProviderError(f"{self.name}: task {task_id} did not finish within {self.timeout:.0f}s",
                                    provider=self.name, code="provider_timeout", retryable=True)
            await asyncio.sleep(self.poll_interval)

    def _task_error(self, task_id: str, status: str, task: dict[str, Any]) -> ProviderError:
        error: dict[str, Any] = task["error"] if isinstance(task.get("error"), dict) else {}
        code, message = error.get("code"), error.get("message")
        if status == "failed":
            # a task failure is the provider's verdict on this input (e.g. sensitive output): not retried,
            # unless the code says the service itself failed
            if code and str(code).startswith(("InternalServiceError", "ServiceUnavailable", "ServerOverloaded")):
                return ProviderError(f"{self.name}: {code}: {message or 'the task failed'}", provider=self.name,
                                     code="provider_error", retryable=True)
            return classify(self.name, 400, code=str(code) if code else None, message=message or "the task failed")
        if status == "expired":
            return ProviderError(f"{self.name}: task {task_id} expired before it ran", provider=self.name,
                                 code="provider_timeout", retryable=True)
        if status == "cancelled":
            return ProviderError(f"{self.name}: task {task_id} was cancelled at the provider", provider=self.name,
                                 code="provider_canceled", retryable=False)
        return self.client.bad_response(f"task {task_id} has an unknown status {status!r}")

    async def cancel(self, task_id: str) -> None:
        """DELETE the task (Ark cancels it while queued); never raises. Sent directly, not through the guard: a
        clean-up must neither be refused by an open breaker nor count as the provider's recovery."""
        status: int | str = "error"
        with contextlib.suppress(Exception):
            response = await self.client.http.delete(f"{self.client.base}{TASKS_PATH}/{task_id}", timeout=10)
            status = response.status_code
        log.info("provider=%s op=video.cancel status=%s", self.name, status)
