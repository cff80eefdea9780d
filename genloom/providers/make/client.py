"""The "make" image client: ``POST {base}{make_submit_path}`` → a task id (a bare JSON string or a field), then
``GET {base}{make_poll_path}`` every ``image_polling_interval`` seconds, at most ``image_max_polling_attempts``
times, until the status field holds a success, failure, moderation or retry status; then the image URL(s) are
downloaded. There is no cancel endpoint: a canceled job just stops polling."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from genloom.core.settings import Settings
from genloom.providers.base import (
    GeneratedMedia,
    ImageRequest,
    ImageResult,
    ProgressFn,
    ProviderError,
    missing_settings,
)
from genloom.providers.download import download, image_dimensions
from genloom.providers.http import call, make_client
from genloom.providers.resilience import GuardRegistry, ProviderGuard

PROVIDER = "make"
DEFAULT_MODEL = "universal"
#: "SUCCESS with no artifacts yet" happens briefly; poll this many more times before giving up
EMPTY_SUCCESS_GRACE = 2
STATUS_FALLBACKS = ("task_status", "status", "state")


def required_settings(settings: Settings, capability: str) -> list[str]:
    return missing_settings(settings, {"make_api_base_url": "MAKE_API_BASE_URL",
                                       "make_api_token": "TEST_MAKE_API_TOKEN"})


def queue_base(base_url: str, queue: str) -> str:
    """``MakeApiQueue``: "" = the base as is; "dev"/"ops" select ``dev.api.…``/``ops.api.…`` hosts."""
    base = base_url.rstrip("/")
    queue = queue.strip().lower()
    if not queue or queue in ("prod", "default"):
        return base
    parts = urlsplit(base)
    host = parts.hostname or ""
    if not host.startswith("api."):
        return base
    netloc = parts.netloc.replace(host, f"{queue}.{host}", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def dig(data: Any, path: str) -> Any:
    """``a.0.b`` → data["a"][0]["b"], or None."""
    current = data
    for part in path.split("."):
        if isinstance(current, list) and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else None
        elif isinstance(current, dict):
            current = current.get(part)
        else:
            return None
        if current is None:
            return None
    return current


class MakeImage:
    """ImageProvider for the make/Neta submit-and-poll API."""

    name = PROVIDER

    def __init__(self, settings: Settings, *, guard: ProviderGuard, model: str = "",
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.guard = guard
        self.model = model or DEFAULT_MODEL
        self.base = queue_base(settings.make_api_base_url, settings.make_api_queue)
        scheme = settings.make_auth_scheme.strip()
        token = settings.make_api_token
        headers = {settings.make_auth_header: f"{scheme} {token}" if scheme else token,
                   "x-platform": "nieta-app/web", "X-Client-Version": "1.0.0", "X-Client-Platform": "backend"}
        self.http = http or make_client(settings, headers=headers)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _body(self, request: ImageRequest, seed: int | None) -> dict[str, Any]:
        if self.settings.make_body_style == "simple":
            body: dict[str, Any] = {"prompts": [request.prompt], "width": request.width, "height": request.height,
                                    "batch_size": 1, "quality": request.extra.get("quality", "standard")}
            if request.negative_prompt:
                body["negative_prompt"] = request.negative_prompt
        else:
            body = {"storyId": "", "jobType": self.model, "width": request.width, "height": request.height,
                    "rawPrompt": [{"type": "freetext", "value": request.prompt, "weight": 1}],
                    "meta": {"entrance": "PICTURE,PURE"}, "negative_freetext": request.negative_prompt,
                    "advanced_translator": False, "context_model_series": None}
            # The Lumina (ops) queue takes its checkpoint and sampler settings here; absent ones stay unset.
            client_args = {name: value for name, value in (("ckpt_name", request.model), ("cfg", request.extra.get("cfg")),
                                                           ("steps", request.steps)) if value is not None}
            if client_args:
                body["client_args"] = client_args
        if seed is not None:
            body["seed"] = seed
        return body

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult:
        images: list[GeneratedMedia] = []
        count = max(1, request.count)
        for index in range(count):  # one task makes one image
            seed = None if request.seed is None else request.seed + index

            async def scaled(fraction: float, phase: str | None, index: int = index) -> None:
                if progress is not None:
                    await progress((index + fraction) / count, phase)

            images.extend(await self._one(request, seed, scaled))
        if progress is not None:
            await progress(1.0, "downloaded")
        return ImageResult(images=images, provider=self.name, model=self.model)

    async def _one(self, request: ImageRequest, seed: int | None, progress: ProgressFn) -> list[GeneratedMedia]:
        await progress(0.02, "submitting")
        answer = await call(self.guard, self.http, "image.submit", "POST",
                            f"{self.base}{self.settings.make_submit_path}", json=self._body(request, seed),
                            idempotent=False)
        task_id = self._task_id(answer)
        attempts = self.settings.image_max_polling_attempts
        interval = self.settings.image_polling_interval
        empty_successes = 0
        for poll in range(1, attempts + 1):
            await asyncio.sleep(interval)
            data = await call(self.guard, self.http, "image.poll", "GET",
                              f"{self.base}{self.settings.make_poll_path.format(task_id=task_id)}")
            status = self._status(data)
            if status in self.settings.make_success_statuses:
                urls = self._urls(data)
                if urls:
                    await progress(0.9, "downloading")
                    return [await self._fetch(url, seed) for url in urls]
                empty_successes += 1
                if empty_successes > EMPTY_SUCCESS_GRACE:
                    raise ProviderError(f"{PROVIDER}: task {task_id} succeeded without an image", provider=PROVIDER,
                                        code="provider_task_failed", retryable=True)
            elif status in self.settings.make_policy_statuses:
                raise ProviderError(f"{PROVIDER}: {status}: {self._reason(data) or 'the image was refused by moderation'}",
                                    provider=PROVIDER, code="content_policy", retryable=False)
            elif status in self.settings.make_retry_statuses:
                raise ProviderError(f"{PROVIDER}: {status}: {self._reason(data) or 'the provider gave up'}",
                                    provider=PROVIDER, code="provider_task_failed", retryable=True)
            elif status in self.settings.make_failure_statuses:
                raise ProviderError(f"{PROVIDER}: {status}: {self._reason(data) or 'the task failed'}",
                                    provider=PROVIDER, code="provider_task_failed", retryable=False)
            await progress(min(0.88, 0.05 + 0.83 * poll / attempts), (status or "pending").lower())
        raise ProviderError(f"{PROVIDER}: task {task_id} not finished after {attempts} polls", provider=PROVIDER,
                            code="provider_timeout", retryable=True)

    def _task_id(self, answer: Any) -> str:
        if isinstance(answer, str) and answer.strip():
            return answer.strip()
        for scope in (answer, answer.get("data") if isinstance(answer, dict) else None):
            if isinstance(scope, str) and scope.strip():
                return scope.strip()
            if isinstance(scope, dict):
                for name in self.settings.make_task_id_fields:
                    if scope.get(name):
                        return str(scope[name])
        raise ProviderError(f"{PROVIDER}: the submission returned no task id", provider=PROVIDER,
                            code="provider_bad_response", retryable=True)

    def _status(self, data: Any) -> str:
        for name in (self.settings.make_status_field, *STATUS_FALLBACKS):
            value = dig(data, name) if isinstance(data, dict) else None
            if value is None and isinstance(data, dict) and isinstance(data.get("data"), dict):
                value = data["data"].get(name)
            if isinstance(value, str):
                return value
        return ""

    def _urls(self, data: Any) -> list[str]:
        artifacts = dig(data, "artifacts")
        if isinstance(artifacts, list):
            urls = [str(a["url"]) for a in artifacts if isinstance(a, dict) and a.get("url")
                    and str(a.get("status", "SUCCESS")).upper() in ("SUCCESS", "SUCCEEDED", "")]
            if urls:
                return urls
        for path in self.settings.make_image_url_fields:
            value = dig(data, path)
            if isinstance(value, str) and value:
                return [value]
            if isinstance(value, dict) and value.get("url"):
                return [str(value["url"])]
        return []

    @staticmethod
    def _reason(data: Any) -> str:
        if not isinstance(data, dict):
            return ""
        for name in ("error", "message", "msg", "reason"):
            value = data.get(name)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])
        return ""

    async def _fetch(self, url: str, seed: int | None) -> GeneratedMedia:
        got = await download(url, settings=self.settings, guard=self.guard, accept=("image/",),
                             operation="image.download")
        width, height = image_dimensions(got.data)
        return GeneratedMedia(data=got.data, mime=got.mime, width=width, height=height, seed=seed)


def build(settings: Settings, capability: str, guards: GuardRegistry) -> MakeImage:
    if capability != "image":
        raise ValueError(f"make has no {capability} capability")
    return MakeImage(settings, guard=guards.get(PROVIDER), model=settings.image_model)
