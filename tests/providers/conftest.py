"""Fixtures for provider tests: fake servers on real ports and settings/runtimes pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from genloom.assembly import build_runtime, start_runtime
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes import dashscope as dashscope_fake
from tests.fakes import make as make_fake
from tests.fakes.base import FakeServer
from tests.fakes.comfyui import ComfyFake
from tests.fakes.comfyui_server import create_app
from tests.providers import remote
from tests.providers.remote import served

DASHSCOPE_KEY = "sk-dashscope-secret-4242"
MAKE_TOKEN = "make-token-secret-9090"

#: fast clocks so fault tests finish quickly (no test asserts on time)
FAST = {**remote.FAST, "image_polling_interval": 0.05, "provider_read_timeout": 2.0}


@dataclass
class Fake:
    state: Any
    url: str


@pytest.fixture
def comfy() -> Iterator[tuple[ComfyFake, FakeServer]]:
    yield from served(ComfyFake(), create_app)


@pytest.fixture
def dashscope() -> Iterator[Fake]:
    state = dashscope_fake.DashScopeFake(api_key=DASHSCOPE_KEY)
    with FakeServer(dashscope_fake.create_app(state)) as server:
        yield Fake(state, server.url)


@pytest.fixture
def make_api() -> Iterator[Fake]:
    state = make_fake.MakeFake(api_key=MAKE_TOKEN)
    with FakeServer(make_fake.create_app(state)) as server:
        yield Fake(state, server.url)


@pytest.fixture
def provider_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings without a database of their own (for client-level tests)."""

    def build(**overrides: Any) -> Settings:
        values = {**FAST, "data_dir": tmp_path, **overrides}
        return make_settings(**values)

    return build


@pytest.fixture
def open_runtime(settings: Settings) -> Callable[..., Any]:
    """``async with open_runtime(image_provider=...) as rt``: a runtime on the test database with providers
    pointed at the fakes."""

    @asynccontextmanager
    async def opened(**overrides: Any) -> AsyncIterator[Runtime]:
        base = {
            "database_url": settings.database_url, "data_dir": settings.data_dir, "media_dir": settings.media_dir,
            "retry_base_seconds": 0.0, "poll_interval_seconds": 0.05, "event_poll_seconds": 0.05,
        }
        rt = build_runtime(make_settings(**{**base, **FAST, **overrides}))
        await start_runtime(rt, migrate=False)
        try:
            yield rt
        finally:
            await rt.close()

    return opened
