"""URLs in logs: httpx's per-request INFO lines are off by default, and any URL that is logged keeps its query
parameter names only (plain numbers kept), since query values can be user text or signatures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from genloom.core.logging import configure_logging, redact_query, redact_url_queries, unconfigure_logging
from tests.conftest import make_settings
from tests.fakes.base import FakeServer

USER_TEXT = "grandmothers-secret-garden"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "app.log"
    configure_logging(make_settings(log_format="text", log_level="DEBUG", log_file=path))
    try:
        yield path
    finally:
        unconfigure_logging()


def test_query_values_become_names_numbers_kept() -> None:
    assert redact_query(f"filename={USER_TEXT}_00001_.png&subfolder=&type=output&page=2&sig=ab") == (
        "filename=…&subfolder=&type=…&page=2&sig=[REDACTED]")
    line = f'HTTP Request: GET http://127.0.0.1:8188/view?filename={USER_TEXT}.png&w=512 "HTTP/1.1 200 OK"'
    assert redact_url_queries(line) == 'HTTP Request: GET http://127.0.0.1:8188/view?filename=…&w=512 "HTTP/1.1 200 OK"'
    assert redact_url_queries("see https://example.com/docs and ws://h/ws") == "see https://example.com/docs and ws://h/ws"


async def test_httpx_request_lines_stay_out_of_the_log_even_at_debug(log_file: Path) -> None:
    async def view(request: Request) -> PlainTextResponse:
        return PlainTextResponse("png")

    with FakeServer(Starlette(routes=[Route("/view", view)])) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (await client.get(f"{server.url}/view", params={"filename": f"{USER_TEXT}.png"})).status_code == 200
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    assert USER_TEXT not in log_file.read_text(encoding="utf-8")


def test_a_url_logged_by_anyone_loses_its_query_values(log_file: Path) -> None:
    logging.getLogger("some.library").warning("fetch failed: %s", f"https://cdn.example/a.png?name={USER_TEXT}&v=3")
    text = log_file.read_text(encoding="utf-8")
    assert "https://cdn.example/a.png?name=…&v=3" in text and USER_TEXT not in text
