"""``GET /v1/providers`` shows the chosen providers and their circuit breaker state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genloom.app import create_app
from genloom.providers.base import ChatMessage, ProviderError
from tests.providers.conftest import DASHSCOPE_KEY, Fake


async def test_providers_route_shows_breaker_state(open_runtime: Callable[..., Any], dashscope: Fake) -> None:
    settings = {"text_provider": "qwen", "image_provider": "zimage", "dashscope_api_key": DASHSCOPE_KEY,
                "dashscope_base_url": dashscope.url, "breaker_failures": 1, "provider_max_retries": 0,
                "breaker_cooldown_seconds": 60}
    async with open_runtime(**settings) as rt:
        app = create_app(runtime=rt, workers=0)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                body = (await client.get("/v1/providers")).json()
                assert body["capabilities"]["text"] == {"provider": "dashscope", "model": "qwen-plus",
                                                        "circuit": "closed", "reachable": None}  # probes off
                assert body["capabilities"]["image"]["model"] == "z-image-turbo"
                assert body["health"]["dashscope"]["breaker"]["state"] == "closed"

                dashscope.state.fail(500, path="/chat/completions")
                with pytest.raises(ProviderError):
                    await rt.providers.text.complete([ChatMessage("user", "hi")])
                body = (await client.get("/v1/providers")).json()
                assert body["capabilities"]["text"]["circuit"] == "open"
                breaker = body["health"]["dashscope"]["breaker"]
                assert breaker["state"] == "open" and breaker["last_error"] == "provider_unavailable_status"
                assert breaker["retry_in_seconds"] > 0
                assert DASHSCOPE_KEY not in str(body)
