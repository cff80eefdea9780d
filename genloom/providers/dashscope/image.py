"""DashScope images: Z-Image (``z-image-turbo``, synchronous multimodal-generation: one image per call) and Wan
(``wan2.x-t2i-…``/``wanx…``, the async text2image task: submit with ``X-DashScope-Async: enable`` → poll the
task → download). The model name chooses the protocol. Results are downloaded at once (signed OSS links live
24 h) and returned as bytes."""

from __future__ import annotations

from typing import Any

from genloom.providers.base import GeneratedMedia, ImageRequest, ImageResult, ProgressFn, ProviderError
from genloom.providers.dashscope.common import DEFAULT_IMAGE_MODEL, PROVIDER, DashScopeClient
from genloom.providers.download import download, image_dimensions

SYNC_PATH = "/services/aigc/multimodal-generation/generation"
WAN_PATH = "/services/aigc/text2image/image-synthesis"
MAX_SEED = 2_147_483_647


def is_task_model(model: str) -> bool:
    """Wan text-to-image models speak the async task protocol; Z-Image (and Qwen-Image) the sync one."""
    return model.startswith(("wan", "wanx"))


class DashScopeImage:
    """ImageProvider for Z-Image and Wan."""

    name = PROVIDER

    def __init__(self, client: DashScopeClient, model: str = "", *, zimage_client: DashScopeClient | None = None) -> None:
        self.client = client
        self.zimage = zimage_client or client
        self.model = model or DEFAULT_IMAGE_MODEL

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.zimage.aclose()

    async def generate(self, request: ImageRequest, *, progress: ProgressFn | None = None) -> ImageResult:
        model = request.model or self.model
        if is_task_model(model):
            return await self._wan(model, request, progress)
        return await self._sync(model, request, progress)

    # --- Z-Image: synchronous ----------------------------------------------------------------------------

    async def _sync(self, model: str, request: ImageRequest, progress: ProgressFn | None) -> ImageResult:
        images: list[GeneratedMedia] = []
        revised: str | None = None
        count = max(1, request.count)
        for index in range(count):  # the endpoint always makes exactly one image
            if progress is not None:
                await progress(index / count * 0.9, "generating")
            seed = None if request.seed is None else (request.seed + index) % (MAX_SEED + 1)
            parameters: dict[str, Any] = {"size": f"{request.width}*{request.height}",
                                          "prompt_extend": bool(request.extra.get("prompt_extend", False))}
            if seed is not None:
                parameters["seed"] = seed
            # No negative prompt: the documented Z-Image parameters are size, seed and prompt_extend only (the
            # distilled model runs without classifier-free guidance, so a negative prompt would have no effect).
            body = {"model": model,
                    "input": {"messages": [{"role": "user", "content": [{"text": request.prompt}]}]},
                    "parameters": parameters}
            data = await self.zimage.native_call("image.generate", "POST", SYNC_PATH, json=body, idempotent=False)
            url, text = _sync_result(data)
            revised = text or revised
            images.append(await self._fetch(url, seed))
        if progress is not None:
            await progress(1.0, "downloaded")
        return ImageResult(images=images, provider=self.name, model=model, revised_prompt=revised)

    # --- Wan: async task ---------------------------------------------------------------------------------

    async def _wan(self, model: str, request: ImageRequest, progress: ProgressFn | None) -> ImageResult:
        input_: dict[str, Any] = {"prompt": request.prompt}
        if request.negative_prompt:
            input_["negative_prompt"] = request.negative_prompt
        # n is always explicit: V2 models default to 4 images, each billed.
        parameters: dict[str, Any] = {"size": f"{request.width}*{request.height}", "n": max(1, min(4, request.count)),
                                      "prompt_extend": bool(request.extra.get("prompt_extend", False)),
                                      "watermark": bool(request.extra.get("watermark", False))}
        if request.seed is not None:
            parameters["seed"] = request.seed % (MAX_SEED + 1)
        body = {"model": model, "input": input_, "parameters": parameters}
        if progress is not None:
            await progress(0.02, "submitting")
        task_id = await self.client.submit_task("image.submit", WAN_PATH, body)
        output = await self.client.wait_task(task_id, operation="image.task", progress=progress)
        urls: list[str] = []
        reasons: list[str] = []
        revised: str | None = None
        for item in output.get("results") or []:
            if isinstance(item, dict) and item.get("url"):
                urls.append(str(item["url"]))
                revised = revised or item.get("actual_prompt")
            elif isinstance(item, dict):
                reasons.append(f"{item.get('code') or 'failed'}: {item.get('message') or ''}".strip())
        if not urls:
            raise ProviderError(f"{PROVIDER}: the task produced no image ({'; '.join(reasons) or 'no results'})",
                                provider=PROVIDER, code="provider_task_failed", retryable=False)
        if progress is not None:
            await progress(0.92, "downloading")
        images = [await self._fetch(url, request.seed) for url in urls]
        if progress is not None:
            await progress(1.0, "downloaded")
        return ImageResult(images=images, provider=self.name, model=model, revised_prompt=revised)

    async def _fetch(self, url: str, seed: int | None) -> GeneratedMedia:
        got = await download(url, settings=self.client.settings, guard=self.client.guard, accept=("image/",),
                             operation="image.download")
        width, height = image_dimensions(got.data)
        return GeneratedMedia(data=got.data, mime=got.mime, width=width, height=height, seed=seed)


def _sync_result(data: Any) -> tuple[str, str | None]:
    """(image URL, prompt text used) from a multimodal-generation answer."""
    try:
        content = data["output"]["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(f"{PROVIDER}: the image answer has no choices", provider=PROVIDER,
                            code="provider_bad_response", retryable=True) from None
    url = next((str(p["image"]) for p in content if isinstance(p, dict) and p.get("image")), None)
    text = next((str(p["text"]) for p in content if isinstance(p, dict) and p.get("text")), None)
    if url is None:
        raise ProviderError(f"{PROVIDER}: the image answer has no image", provider=PROVIDER,
                            code="provider_bad_response", retryable=True)
    return url, text
