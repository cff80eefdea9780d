"""What every DashScope client shares: base URLs (native ``/api/v1`` and OpenAI-compatible mode), auth headers,
the guard, and the async-task loop (submit → poll ``/tasks/{id}`` → cancel while PENDING)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from genloom.core.aio import run_to_end
from genloom.core.settings import Settings
from genloom.providers.base import ProgressFn, ProviderError
from genloom.providers.http import call, make_client, native_error
from genloom.providers.openai.compat import CompatClient
from genloom.providers.resilience import ProviderGuard, is_policy_code

PROVIDER = "dashscope"

DEFAULT_TEXT_MODEL = "qwen-plus"
DEFAULT_IMAGE_MODEL = "z-image-turbo"
DEFAULT_WAN_MODEL = "wan2.2-t2i-flash"
DEFAULT_ASR_MODEL = "paraformer-v2"
DEFAULT_SHORT_ASR_MODEL = "qwen3-asr-flash"
DEFAULT_VISION_MODEL = "qwen-vl-plus"

#: task statuses that end the poll
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}


def split_base(base_url: str) -> str:
    """The host part of ``DASHSCOPE_BASE_URL``; a URL that already ends in /api/v1 or /compatible-mode/v1 works too."""
    base = base_url.rstrip("/")
    for suffix in ("/api/v1", "/compatible-mode/v1"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


class DashScopeClient:
    """The HTTP side of one DashScope credential (Z-Image may use its own key)."""

    def __init__(self, settings: Settings, *, guard: ProviderGuard, api_key: str,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.guard = guard
        self.api_key = api_key
        self.base = split_base(settings.dashscope_base_url)
        self.native = f"{self.base}/api/v1"
        self.compat = f"{self.base}/compatible-mode/v1"
        headers = {"Authorization": f"Bearer {api_key}"}
        if settings.dashscope_workspace:
            headers["X-DashScope-WorkSpace"] = settings.dashscope_workspace
        self.http = http or make_client(settings, headers=headers)
        #: Qwen chat, Qwen-VL and qwen3-asr-flash speak the OpenAI protocol on the compatible-mode URL: the shared
        #: OpenAI-style client over the same HTTP client (headers, pool) and guard
        self.chat_api = CompatClient(settings, provider=PROVIDER, base_url=self.compat, api_key=api_key, guard=guard,
                                     http=self.http)
        self.poll_interval = settings.task_poll_interval_seconds
        self.task_timeout = settings.task_timeout_seconds

    async def aclose(self) -> None:
        await self.http.aclose()

    async def native_call(self, operation: str, method: str, path: str, *, idempotent: bool = True,
                          headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return await call(self.guard, self.http, operation, method, f"{self.native}{path}", idempotent=idempotent,
                          parse_error=native_error, headers=headers, **kw)

    # --- async tasks --------------------------------------------------------------------------------------

    async def submit_task(self, operation: str, path: str, body: dict[str, Any]) -> str:
        data = await self.native_call(operation, "POST", path, json=body, idempotent=False,
                                      headers={"X-DashScope-Async": "enable"})
        output = data.get("output") if isinstance(data, dict) else None
        task_id = output.get("task_id") if isinstance(output, dict) else None
        if not task_id:
            raise ProviderError(f"{PROVIDER}: the task submission returned no task_id", provider=PROVIDER,
                                code="provider_bad_response", retryable=True)
        return str(task_id)

    async def cancel_task(self, task_id: str) -> None:
        """Ask DashScope to cancel a task (only PENDING tasks can be); never raises."""
        with contextlib.suppress(Exception):
            # bounded: a job waits for this clean-up before it is marked canceled
            await self.native_call("task.cancel", "POST", f"/tasks/{task_id}/cancel", timeout=10)

    async def wait_task(self, task_id: str, *, operation: str, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Poll until the task ends; return its ``output``. A cancel (task cancel or JobCanceled from the progress
        callback) is forwarded to DashScope before it propagates."""
        deadline = time.monotonic() + self.task_timeout
        polls = 0
        try:
            while True:
                data = await self.native_call(f"{operation}.poll", "GET", f"/tasks/{task_id}")
                output = data.get("output") if isinstance(data, dict) else None
                if not isinstance(output, dict):
                    raise ProviderError(f"{PROVIDER}: the task answer has no output", provider=PROVIDER,
                                        code="provider_bad_response", retryable=True)
                status = str(output.get("task_status") or "UNKNOWN")
                if status in TERMINAL:
                    return self._finished(task_id, status, output)
                polls += 1
                if progress is not None:
                    # DashScope reports no percentage: creep towards 90 % so clients see the task is alive.
                    await progress(min(0.9, 0.1 + 0.8 * (1 - 0.85 ** polls)), status.lower())
                if time.monotonic() > deadline:
                    raise ProviderError(f"{PROVIDER}: task {task_id} did not finish within {self.task_timeout:.0f}s",
                                        provider=PROVIDER, code="provider_timeout", retryable=True)
                await asyncio.sleep(self.poll_interval)
        except ProviderError:
            raise
        except BaseException:
            # Canceled (the worker cancels our asyncio task, or the progress callback raises JobCanceled) while
            # the task is still ours: tell DashScope (to the end, even if cancelled again meanwhile), then propagate.
            await run_to_end(self.cancel_task(task_id))
            raise

    def _finished(self, task_id: str, status: str, output: dict[str, Any]) -> dict[str, Any]:
        if status == "SUCCEEDED":
            return output
        code = output.get("code")
        message = output.get("message") or {"CANCELED": "the task was canceled",
                                             "UNKNOWN": "the task is unknown or expired"}.get(status, "task failed")
        reason = f"{PROVIDER}: {code + ': ' if code else ''}{message}"
        if is_policy_code(str(code) if code else None):
            raise ProviderError(reason, provider=PROVIDER, code="content_policy", retryable=False)
        retryable = str(code or "").startswith(("InternalError", "RequestTimeOut", "Throttling.RateQuota"))
        raise ProviderError(reason, provider=PROVIDER, code="provider_task_failed", retryable=retryable)
