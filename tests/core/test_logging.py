"""Logging: JSON lines, rotating files, request ids through the middleware, redaction of secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket

from genloom.core.logging import (
    RequestLogMiddleware,
    configure_logging,
    redact,
    redact_query,
    request_id_var,
    unconfigure_logging,
)
from genloom.jobs.log import log_job_transition
from genloom.runtime import Runtime
from tests.conftest import make_settings

log = logging.getLogger("genloom.tests.logging")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    unconfigure_logging()
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo/{word}")
    async def echo(word: str) -> dict[str, str]:
        log.info("inside.route word=%s", word)
        return {"word": word, "request_id": request_id_var.get()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(request_id_var.get())
        await socket.close(code=1000)

    app.add_middleware(RequestLogMiddleware)
    return app


async def call(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


class TestConfigure:
    def test_json_lines_keep_chinese(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(make_settings(log_format="json", log_level="INFO"))
        log.info("生成 %s", "一只赛博朋克猫")
        log.debug("not shown at INFO")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        assert len(lines) == 1
        assert lines[0]["message"] == "生成 一只赛博朋克猫"
        assert lines[0]["level"] == "INFO"
        assert lines[0]["logger"] == "genloom.tests.logging"
        assert lines[0]["request_id"] == "-"
        assert lines[0]["ts"].endswith("+00:00")

    def test_json_extra_fields(self, tmp_path: Path) -> None:
        path = tmp_path / "x.log"
        configure_logging(make_settings(log_format="json", log_file=path))
        log.warning("jobs.slow", extra={"job_id": "j9", "seconds": 12.5, "提示": "慢"})
        record = json_lines(path)[-1]
        assert (record["job_id"], record["seconds"], record["提示"]) == ("j9", 12.5, "慢")
        assert "args" not in record and "msg" not in record

    def test_text_format_and_exception(self, tmp_path: Path) -> None:
        path = tmp_path / "logs" / "genloom.log"
        configure_logging(make_settings(log_format="text", log_level="DEBUG", log_file=path))
        try:
            raise ValueError("bad token=abcdef123456")
        except ValueError:
            log.exception("jobs.failed job_id=%s", "j1")
        text = path.read_text(encoding="utf-8")
        assert "ERROR genloom.tests.logging [-] jobs.failed job_id=j1" in text
        assert "ValueError: bad token=[REDACTED]" in text
        assert "abcdef123456" not in text

    def test_idempotent(self, tmp_path: Path) -> None:
        settings = make_settings(log_file=tmp_path / "a.log", log_level="INFO")
        configure_logging(settings)
        configure_logging(settings)
        ours = [h for h in logging.getLogger().handlers if getattr(h, "_genloom_handler", False)]
        assert len(ours) == 2  # one stream, one file: not four
        log.info("once")
        assert (tmp_path / "a.log").read_text(encoding="utf-8").count("once") == 1

    def test_level_from_settings(self) -> None:
        configure_logging(make_settings(log_level="error"))
        assert logging.getLogger().level == logging.ERROR

    def test_rotating_file(self, tmp_path: Path) -> None:
        path = tmp_path / "genloom.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path,
                                        log_file_max_bytes=1024, log_file_backups=2))
        for n in range(200):
            log.info("第%d行 中文日志不应乱码", n)
        assert path.exists()
        assert (tmp_path / "genloom.log.1").exists()
        assert (tmp_path / "genloom.log.2").exists()
        assert not (tmp_path / "genloom.log.3").exists()
        assert path.stat().st_size <= 1024
        last = json_lines(path)[-1]
        assert last["message"] == "第199行 中文日志不应乱码"


class TestRequestLog:
    async def test_request_id_is_propagated(self, tmp_path: Path) -> None:
        path = tmp_path / "req.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        response = await call(tiny_app(), "/echo/猫", headers={"X-Request-ID": "req-123.abc"})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-123.abc"
        assert response.json() == {"word": "猫", "request_id": "req-123.abc"}
        records = json_lines(path)
        inside = [r for r in records if r["message"].startswith("inside.route")]
        assert inside and inside[0]["request_id"] == "req-123.abc"
        assert inside[0]["message"] == "inside.route word=猫"
        access = [r for r in records if r["message"].startswith("http.request")]
        assert len(access) == 1
        assert access[0]["logger"] == "genloom.http"
        line = access[0]["message"]
        assert "method=GET" in line and "path=/echo/猫" in line and "status=200" in line
        assert "duration_ms=" in line and "request_id=req-123.abc" in line
        assert request_id_var.get() == "-"  # unbound after the request

    async def test_generated_when_missing_or_unsafe(self) -> None:
        app = tiny_app()
        first = await call(app, "/echo/a")
        second = await call(app, "/echo/a", headers={"X-Request-ID": "<script>alert(1)</script>"})
        third = await call(app, "/echo/a", headers={"X-Request-ID": "x" * 300})
        ids = [r.headers["x-request-id"] for r in (first, second, third)]
        for rid in ids:
            assert len(rid) == 32 and int(rid, 16) >= 0
        assert len(set(ids)) == 3

    async def test_secret_query_values_redacted(self, tmp_path: Path) -> None:
        path = tmp_path / "req.log"
        configure_logging(make_settings(log_format="text", log_level="INFO", log_file=path))
        await call(tiny_app(), "/echo/a?sig=s3cr3tsig&exp=99&token=tok123&api_key=k-1&access_token=at&w=3")
        text = path.read_text(encoding="utf-8")
        assert "http.request method=GET path=/echo/a?sig=[REDACTED]&exp=99&token=[REDACTED]" in text
        assert "api_key=[REDACTED]&access_token=[REDACTED]&w=3" in text
        for secret in ("s3cr3tsig", "tok123", "k-1", "=at&"):
            assert secret not in text

    async def test_probes_are_quiet_at_info(self, tmp_path: Path) -> None:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        app.add_middleware(RequestLogMiddleware)
        path = tmp_path / "q.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        await call(app, "/healthz")
        await call(app, "/metrics")  # 404 here: a failing probe is worth a line
        lines = [r["message"] for r in json_lines(path) if r["message"].startswith("http.request")]
        assert len(lines) == 1 and "path=/metrics status=404" in lines[0]
        configure_logging(make_settings(log_format="json", log_level="DEBUG", log_file=path))
        await call(app, "/healthz")
        assert any("path=/healthz status=200" in r["message"] for r in json_lines(path))

    async def test_unhandled_error_logged_as_500(self, tmp_path: Path) -> None:
        path = tmp_path / "req.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        response = await call(tiny_app(), "/boom")
        assert response.status_code == 500
        access = [r for r in json_lines(path) if r["message"].startswith("http.request")]
        assert "status=500" in access[0]["message"]

    async def test_websocket_gets_request_id_and_one_line(self, tmp_path: Path) -> None:
        path = tmp_path / "ws.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        incoming = [{"type": "websocket.connect"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": "/ws", "raw_path": b"/ws",
                 "query_string": b"token=abc123", "headers": [(b"x-request-id", b"ws-1")], "scheme": "ws",
                 "server": ("testserver", 80), "client": ("127.0.0.1", 5000), "root_path": "", "subprotocols": []}
        await tiny_app()(scope, receive, send)  # type: ignore[arg-type]
        assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
        assert sent[1]["text"] == "ws-1"
        lines = [r for r in json_lines(path) if r["message"].startswith("ws.session")]
        assert len(lines) == 1
        assert "path=/ws?token=[REDACTED]" in lines[0]["message"]
        assert "status=1000" in lines[0]["message"]
        assert lines[0]["request_id"] == "ws-1"

    async def test_real_app_echoes_request_id(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "probe-42"})
        assert response.headers["x-request-id"] == "probe-42"
        # browsers may read it: CORS exposes the header
        cors = await client.get("/healthz", headers={"Origin": "http://localhost:3000"})
        assert "X-Request-ID" in cors.headers.get("access-control-expose-headers", "")

    async def test_failing_observer_never_breaks_a_response(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        seen: list[tuple[str, str, int]] = []

        def broken(method: str, route: str, status: int, duration_s: float) -> None:
            raise RuntimeError("observer bug")

        def recording(method: str, route: str, status: int, duration_s: float) -> None:
            seen.append((method, route, status))

        client._transport.app.state.request_observers.extend([broken, recording])  # type: ignore[attr-defined]
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert ("GET", "/healthz", 200) in seen


class TestRedaction:
    @pytest.mark.parametrize(
        ("raw", "secret"),
        [
            ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
            ("calling with key sk-proj-abcdefghijklmnop1234", "abcdefghijklmnop1234"),
            ('{"api_key": "AKIA1234567890"}', "AKIA1234567890"),
            ("url=https://x/y?X-Amz-Signature=deadbeef00&a=1", "deadbeef00"),
            ("password=hunter2hunter2", "hunter2hunter2"),
        ],
    )
    def test_redact(self, raw: str, secret: str) -> None:
        cleaned = redact(raw)
        assert secret not in cleaned
        assert "[REDACTED]" in cleaned

    def test_plain_text_untouched(self) -> None:
        text = "生成一只猫 prompt=a cat in the rain status=ok tokens_used=12"
        assert redact(text) == text

    def test_redact_query(self) -> None:
        assert redact_query("") == ""
        assert redact_query("sig=1&w=3&KEY=z&flag") == "sig=[REDACTED]&w=3&KEY=[REDACTED]&flag"

    def test_filter_scrubs_messages_and_args(self, tmp_path: Path) -> None:
        path = tmp_path / "r.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        log.info("provider.call headers=%s", {"Authorization": "Bearer abcdefgh12345678"})
        log.info("key is sk-abcdefghijklmnopqrstu")
        text = path.read_text(encoding="utf-8")
        assert "abcdefgh12345678" not in text
        assert "abcdefghijklmnopqrstu" not in text
        assert text.count("[REDACTED]") == 2


class TestJobLog:
    def test_job_transition_line(self, tmp_path: Path) -> None:
        path = tmp_path / "jobs.log"
        configure_logging(make_settings(log_format="json", log_level="INFO", log_file=path))
        log_job_transition("succeeded", job_id="j1", kind="image.generate", status="succeeded",
                           attempts=1, phase="saving image")
        log_job_transition("progress", job_id="j1", kind="image.generate", status="running",
                           level=logging.DEBUG, progress=50)
        records = json_lines(path)
        assert [r["message"] for r in records] == [
            'jobs.succeeded job_id=j1 kind=image.generate status=succeeded attempts=1 phase="saving image"'
        ]
        assert records[0]["logger"] == "genloom.jobs"
        # the values are fields of the record too, so a JSON log store can filter on them
        assert records[0]["job_id"] == "j1" and records[0]["status"] == "succeeded"
        assert records[0]["attempts"] == 1 and records[0]["phase"] == "saving image"
