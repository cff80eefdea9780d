"""The "make" (seed 002 / Neta make_image) client against its fake, directly and through the job queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from genloom.core.settings import Settings
from genloom.providers.base import ImageRequest, ProviderError
from genloom.providers.factory import build_providers
from genloom.providers.make.client import queue_base
from tests.conftest import drain
from tests.fakes.dashscope import render_png
from tests.providers.conftest import MAKE_TOKEN, Fake
from tests.providers.jobrun import create, get, stored_images


def make_settings_for(fake: Fake, **kw: Any) -> dict[str, Any]:
    return {"image_provider": "make", "make_api_base_url": fake.url, "make_api_token": MAKE_TOKEN, **kw}


@pytest.fixture
async def make_image(provider_settings: Callable[..., Settings], make_api: Fake) -> Any:
    providers = build_providers(provider_settings(**make_settings_for(make_api)))
    yield providers.image
    await providers.aclose()


async def test_submit_poll_download(make_image: Any, make_api: Fake) -> None:
    fractions: list[float] = []

    async def progress(fraction: float, phase: str | None) -> None:
        fractions.append(fraction)

    result = await make_image.generate(ImageRequest(prompt="a cat", width=512, height=512, seed=5), progress=progress)
    [image] = result.images
    assert image.data == render_png("a cat", 512, 512) and image.mime == "image/png"
    submit = make_api.state.seen("POST", "/v3/make_image")[0]
    assert submit.headers["x-token"] == MAKE_TOKEN
    body = submit.json()
    assert body["rawPrompt"] == [{"type": "freetext", "value": "a cat", "weight": 1}]
    assert (body["width"], body["height"], body["seed"]) == (512, 512, 5)
    assert len(make_api.state.seen("GET", "/v1/artifact/task/")) >= 2
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "client_args" not in body


async def test_lumina_client_args(make_image: Any, make_api: Fake) -> None:
    request = ImageRequest(prompt="a cat", width=512, height=512, seed=5, model="lumina-2", steps=30, extra={"cfg": 5.5})
    await make_image.generate(request)
    body = make_api.state.seen("POST", "/v3/make_image")[0].json()
    assert body["client_args"] == {"ckpt_name": "lumina-2", "cfg": 5.5, "steps": 30}


async def test_polling_gives_up_after_max_attempts(provider_settings: Callable[..., Settings], make_api: Fake) -> None:
    make_api.state.pending_seconds = 60
    providers = build_providers(provider_settings(**make_settings_for(make_api, image_max_polling_attempts=3)))
    try:
        with pytest.raises(ProviderError) as info:
            await providers.image.generate(ImageRequest(prompt="p", width=256, height=256))
        assert info.value.code == "provider_timeout" and info.value.retryable
        assert len(make_api.state.seen("GET", "/v1/artifact/task/")) == 3
    finally:
        await providers.aclose()


async def test_success_without_artifacts_polls_again(make_image: Any, make_api: Fake) -> None:
    make_api.state.empty_success_polls = 2
    result = await make_image.generate(ImageRequest(prompt="p", width=256, height=256))
    assert len(result.images) == 1


async def test_failure_and_moderation_statuses(make_image: Any, make_api: Fake) -> None:
    make_api.state.fail_next_task("FAILURE", "generation failed: out of memory")
    with pytest.raises(ProviderError) as info:
        await make_image.generate(ImageRequest(prompt="p", width=256, height=256))
    assert not info.value.retryable and "FAILURE: generation failed: out of memory" in info.value.message

    make_api.state.fail_next_task("ILLEGAL_IMAGE", "the image was blocked")
    with pytest.raises(ProviderError) as info:
        await make_image.generate(ImageRequest(prompt="p", width=256, height=256))
    assert info.value.code == "content_policy" and not info.value.retryable

    make_api.state.fail_next_task("TIMEOUT", "server gave up")
    with pytest.raises(ProviderError) as info:
        await make_image.generate(ImageRequest(prompt="p", width=256, height=256))
    assert info.value.retryable  # worth resubmitting (PROVIDERS.md §6 rule 4)


async def test_configurable_paths_and_fields(provider_settings: Callable[..., Settings], make_api: Fake) -> None:
    """The seed's placeholder shape: Bearer auth, {"prompts": [...]}, {"data": {"task_uuid"}}, status completed."""
    settings = provider_settings(**make_settings_for(
        make_api, make_submit_path="/v1/generate", make_poll_path="/v1/tasks/{task_id}",
        make_auth_header="Authorization", make_auth_scheme="Bearer", make_body_style="simple",
        make_status_field="status"))
    providers = build_providers(settings)
    try:
        result = await providers.image.generate(ImageRequest(prompt="a dog", width=256, height=256))
        assert result.images[0].data == render_png("a dog", 256, 256)
        submit = make_api.state.seen("POST", "/v1/generate")[0]
        assert submit.headers["authorization"] == f"Bearer {MAKE_TOKEN}"
        assert submit.json()["prompts"] == ["a dog"]
    finally:
        await providers.aclose()


def test_queue_selects_host() -> None:
    assert queue_base("https://api.talesofai.cn", "") == "https://api.talesofai.cn"
    assert queue_base("https://api.talesofai.cn/", "ops") == "https://ops.api.talesofai.cn"
    assert queue_base("https://api.make.com", "dev") == "https://dev.api.make.com"
    assert queue_base("http://127.0.0.1:9001", "ops") == "http://127.0.0.1:9001"


async def test_make_job_stores_media(open_runtime: Callable[..., Any], make_api: Fake) -> None:
    async with open_runtime(**make_settings_for(make_api)) as rt:
        make_api.state.fail(503, times=1, path="/v1/artifact/task/")  # a poll hiccup is retried in place
        job_id = await create(rt, prompt="lighthouse", width=640, height=384, seed=1)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "succeeded", job["error"]
        assert job["result"]["provider"] == "make" and job["attempts"] == 1
        [stored] = await stored_images(rt, job)
        # the local text provider refined the prompt; the fake drew what it was sent
        sent = make_api.state.seen("POST", "/v3/make_image")[0].json()["rawPrompt"][0]["value"]
        assert stored == render_png(sent, 640, 384)


async def test_make_job_failure_reason(open_runtime: Callable[..., Any], make_api: Fake) -> None:
    async with open_runtime(**make_settings_for(make_api)) as rt:
        make_api.state.fail_next_task("FAILURE", "generation failed: out of memory")
        job_id = await create(rt, prompt="p", width=256, height=256)
        await drain(rt)
        job = await get(rt, job_id)
        assert job["status"] == "failed" and job["attempts"] == 1
        assert "generation failed: out of memory" in job["error"]["message"]
