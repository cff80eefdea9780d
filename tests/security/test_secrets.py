"""Secrets never reach logs, settings dumps or the job errors stored in the database and shown to clients."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from genloom.assembly import build_runtime, start_runtime
from genloom.core.logging import configure_logging, redact, redact_query, unconfigure_logging
from genloom.jobs.context import JobContext
from genloom.jobs.registry import JobKind
from genloom.runtime import Runtime
from tests.conftest import drain, make_settings

# an Ark-style key: no recognisable prefix, so only knowing the configured value can catch it
ARK_KEY = "7f3c9e2a-41b8-4d6e-9a0f-c2d1e5b7a9f4"
OPENAI_KEY = "sk-live-0123456789abcdefSECRET"


@pytest.mark.parametrize("text, secret", [
    ("POST https://api.example/v1?client_secret=s3cr3t-value-123", "s3cr3t-value-123"),
    ("headers={'X-Api-Key': 'abcd1234efgh5678'}", "abcd1234efgh5678"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("connect to postgresql+asyncpg://genloom:hunter2pass@db:5432/genloom failed", "hunter2pass"),
    ("redis://:r3dis-pass@cache:6379/0 unreachable", "r3dis-pass"),
    ("db_password=topsecret99", "topsecret99"),
    ("GET /media/a.png?exp=1&sig=0123456789abcdef", "0123456789abcdef"),
    ('{"refresh_token": "0193a1b2.abcdefghijkl"}', "abcdefghijkl"),
    ("params=('$argon2id$v=19$m=65536,t=3,p=4$gXxSxYI2TZVHwZKeyaX7fw$vMREFE+uhzdexDgztYPidZ7Dr9Tbctg', 'x')",
     "gXxSxYI2TZVHwZKeyaX7fw$vMREFE"),
])
def test_redact_catches_common_credential_shapes(text: str, secret: str) -> None:
    assert secret not in redact(text), redact(text)


def test_redact_query_hides_websocket_identity_parameters() -> None:
    out = redact_query("token=abc.def.ghi&access_token=xyz123&after=5&sig=ff&X-Amz-Signature=aa")
    for value in ("abc.def.ghi", "xyz123", "sig=ff", "=aa"):
        assert value not in out
    assert "after=5" in out


def test_settings_repr_hides_every_secret() -> None:
    s = make_settings(secret_key="the-secret-key-value", s3_secret_access_key="s3-secret-value-xyz",
                      test_db_password="db-password-value", jwt_secret="jwt-secret-value-abc",
                      openai_api_key=OPENAI_KEY, ark_api_key=ARK_KEY)
    text = repr(s) + str(s)
    for value in ("the-secret-key-value", "s3-secret-value-xyz", "db-password-value", "jwt-secret-value-abc",
                  OPENAI_KEY, ARK_KEY):
        assert value not in text


def test_configured_secret_values_are_redacted_from_logs(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    settings = make_settings(ark_api_key=ARK_KEY, log_file=str(log_file), log_level="INFO")
    try:
        configure_logging(settings)
        logging.getLogger("genloom.tests.security").warning("provider said: key %s is not valid", ARK_KEY)
        try:
            raise RuntimeError(f"upstream rejected {ARK_KEY}")
        except RuntimeError:
            logging.getLogger("genloom.tests.security").exception("call failed")
    finally:
        unconfigure_logging()
    text = log_file.read_text()
    assert "is not valid" in text and "call failed" in text
    assert ARK_KEY not in text


async def _leaky(ctx: JobContext) -> dict[str, Any]:
    # what a careless client library puts in an exception: the URL with its key, headers, the configured key
    raise RuntimeError(f"401 for url https://api.example/v1/images?api_key={OPENAI_KEY} "
                       f"headers={{'Authorization': 'Bearer {OPENAI_KEY}'}} key={ARK_KEY}")


@pytest.fixture
async def leak_runtime(database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(database_url=database_url, data_dir=tmp_path, media_dir=tmp_path / "media",
                             retry_base_seconds=0.0, poll_interval_seconds=0.05, event_poll_seconds=0.05,
                             openai_api_key=OPENAI_KEY, ark_api_key=ARK_KEY)
    rt = build_runtime(settings)
    rt.kinds.register(JobKind(name="test.leaky", handler=_leaky))
    await start_runtime(rt, migrate=False)
    try:
        yield rt
    finally:
        await rt.close()


async def test_job_error_messages_never_carry_keys(leak_runtime: Runtime) -> None:
    from genloom.app import create_app

    app = create_app(runtime=leak_runtime, workers=0)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            job = (await client.post("/v1/jobs", json={"kind": "test.leaky", "input": {}})).json()
            await drain(leak_runtime)
            body = (await client.get(f"/v1/jobs/{job['id']}")).json()
            assert body["status"] == "failed", body
            events = (await client.get(f"/v1/jobs/{job['id']}/events")).text
    assert "RuntimeError" in body["error"]["message"]
    for text in (body["error"]["message"], events):
        assert OPENAI_KEY not in text and ARK_KEY not in text
    async with leak_runtime.db.session() as s:
        from sqlalchemy import select

        from genloom.jobs.models import Job, JobEvent

        stored = (await s.execute(select(Job.error).where(Job.id == job["id"]))).scalar_one()
        data = [d for (d,) in (await s.execute(select(JobEvent.data).where(JobEvent.job_id == job["id"])))]
    assert OPENAI_KEY not in repr(stored) + repr(data) and ARK_KEY not in repr(stored) + repr(data)


async def test_request_logs_carry_no_credentials(client: httpx.AsyncClient, runtime: Runtime, live_server: Any,
                                                 tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    from genloom.core.principal import SYSTEM
    from genloom.identity import service as identity_service

    password, new_password = "my very secret password", "another secret password"
    async with runtime.db.session() as s:
        await identity_service.create_user(s, SYSTEM, username="mei", password=password, roles=["user"])
    log_file = tmp_path / "requests.log"
    # the live server's startup configures logging; ours replaces it afterwards, so both clients log to the file
    async with live_server(workers=0) as url:
        try:
            configure_logging(make_settings(log_file=str(log_file), log_level="DEBUG"))
            pair = (await client.post("/auth/login", json={"username": "mei", "password": password})).json()
            await client.post("/auth/login", data={"grant_type": "password", "username": "mei",
                                                   "password": password + "x"})
            await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            auth = {"Authorization": f"Bearer {pair['access_token']}"}
            await client.get("/users/me", headers=auth)
            r = await client.patch("/users/me", json={"password": new_password, "old_password": password},
                                   headers=auth)
            assert r.status_code in (200, 204), r.text
            pair2 = (await client.post("/auth/login", json={"username": "mei", "password": new_password})).json()
            await client.get("/media/images/a.png", params={"exp": "9999999999", "sig": "deadbeefcafebabe0011"})
            await client.get("/v1/jobs", params={"access_token": pair2["access_token"]})
            async with connect(url.replace("http://", "ws://") + f"/v1/ws?token={pair2['access_token']}"):
                pass
            await asyncio.sleep(0.2)  # the WS session line is written when the server side ends
        finally:
            unconfigure_logging()
    text = log_file.read_text()
    assert "http.request" in text and "ws.session" in text
    for secret in (password, new_password, pair["access_token"], pair["refresh_token"], pair2["access_token"],
                   pair2["refresh_token"].split(".", 1)[1],
                   pair["refresh_token"].split(".", 1)[1], "deadbeefcafebabe0011", "$argon2id$"):
        assert secret not in text, secret
