"""Retries, Retry-After, the circuit breaker, the concurrency limit, classification and redaction."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from genloom.core.logging import redact
from genloom.core.settings import Settings
from genloom.providers.base import ChatMessage, ProviderError, ProviderUnavailable
from genloom.providers.breaker import BreakerState, CircuitBreaker
from genloom.providers.factory import build_providers
from genloom.providers.http import call, make_client
from genloom.providers.resilience import (
    Attempt,
    GuardRegistry,
    ProviderGuard,
    backoff_delay,
    classify,
    parse_retry_after,
)
from tests.providers.conftest import DASHSCOPE_KEY, Fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": future}) or 0) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_full_jitter_stays_under_the_ceiling_and_respects_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=1.0, cap=8.0, rng=rng) for n in range(1, 8) for _ in range(50)]
    assert all(0 <= d <= 8.0 for d in delays)
    assert min(delays) < 0.5  # full jitter reaches near zero
    assert backoff_delay(1, base=1.0, cap=8.0, retry_after=5.0, rng=rng) >= 5.0


@pytest.mark.parametrize(
    ("status", "code", "message", "expected", "retryable"),
    [
        (429, "Throttling.RateQuota", "Requests rate limit exceeded", "provider_rate_limited", True),
        (429, "insufficient_quota", "You exceeded your current quota", "provider_quota", False),
        (429, "Throttling.AllocationQuota", "quota window exhausted", "provider_quota", False),
        (400, "DataInspectionFailed", "Input data may contain inappropriate content.", "content_policy", False),
        (400, "InputTextSensitiveContentDetected", "sensitive", "content_policy", False),
        (400, "InvalidParameter", "size out of range", "provider_bad_request", False),
        (401, "InvalidApiKey", "Invalid API-key provided.", "provider_auth", False),
        (403, "AccessDenied", "no permission", "provider_auth", False),
        (500, "InternalError", "boom", "provider_unavailable_status", True),
        (503, None, None, "provider_unavailable_status", True),
        (408, "RequestTimeOut", "upstream timeout", "provider_unavailable_status", True),
    ],
)
def test_classification(status: int, code: str | None, message: str | None, expected: str, retryable: bool) -> None:
    err = classify("dashscope", status, code=code, message=message)
    assert err.code == expected and err.retryable is retryable
    if message:
        assert message in err.message  # the provider's reason reaches error.message


def test_breaker_opens_rejects_then_half_open_probe_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", failures=3, cooldown=10, clock=clock)
    for _ in range(3):
        assert breaker.acquire() is False
        breaker.failure("provider_timeout")
    assert breaker.state == BreakerState.open
    with pytest.raises(ProviderUnavailable) as info:
        breaker.acquire()
    assert info.value.code == "provider_unavailable" and info.value.retryable and info.value.retry_after == 10
    clock.now += 10
    assert breaker.acquire() is True  # the single half-open probe
    assert breaker.state == BreakerState.half_open
    with pytest.raises(ProviderUnavailable):
        breaker.acquire()  # a second caller waits for the probe's verdict
    breaker.success()
    assert breaker.state == BreakerState.closed and breaker.acquire() is False


def test_breaker_failed_probe_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", failures=1, cooldown=5, clock=clock)
    breaker.failure("x")
    clock.now += 5
    assert breaker.acquire() is True
    breaker.failure("x")
    assert breaker.state == BreakerState.open and breaker.status()["opened_count"] == 2


async def test_concurrency_limit_per_provider() -> None:
    guard = ProviderGuard("p", concurrency=2, max_retries=0)
    running = peak = 0

    async def attempt(_: Attempt) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return 1

    assert sum(await asyncio.gather(*(guard.run("op", attempt) for _ in range(6)))) == 6
    assert peak == 2


async def test_non_idempotent_call_is_not_resent_after_a_read_timeout() -> None:
    guard = ProviderGuard("p", max_retries=3, backoff_base=0.0)
    calls = 0

    async def attempt(_: Attempt) -> None:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow")

    with pytest.raises(ProviderError) as info:
        await guard.run("image.submit", attempt, idempotent=False)
    assert calls == 1 and info.value.code == "provider_timeout" and info.value.retryable

    calls = 0

    async def refused(_: Attempt) -> None:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused")

    with pytest.raises(ProviderError):
        await guard.run("image.submit", refused, idempotent=False)
    assert calls == 4  # never reached the provider: safe to resend


async def test_circuit_opens_then_closes_after_cooldown_over_http(
    provider_settings: Callable[..., Settings], dashscope: Fake
) -> None:
    settings = provider_settings(text_provider="dashscope", dashscope_api_key=DASHSCOPE_KEY,
                                 dashscope_base_url=dashscope.url, breaker_failures=3, breaker_cooldown_seconds=0.3,
                                 provider_max_retries=1)
    providers = build_providers(settings)
    try:
        dashscope.state.fail(500, times=4, path="/chat/completions")
        for _ in range(2):  # 2 calls x 2 attempts: the third failed attempt opens the circuit
            with pytest.raises(ProviderError):
                await providers.text.complete([ChatMessage("user", "hi")])
        status = providers.health["dashscope"].status()
        assert status["breaker"]["state"] == "open"
        sent = len(dashscope.state.requests)
        with pytest.raises(ProviderUnavailable) as info:
            await providers.text.complete([ChatMessage("user", "hi")])
        assert info.value.code == "provider_unavailable" and info.value.retryable
        assert len(dashscope.state.requests) == sent  # rejected at once, nothing sent
        await asyncio.sleep(0.35)
        dashscope.state.faults.clear()
        result = await providers.text.complete([ChatMessage("user", "hi")])  # the half-open probe
        assert result.text == "refined: hi"
        assert providers.health["dashscope"].status()["breaker"]["state"] == "closed"
    finally:
        await providers.aclose()


async def test_bad_requests_do_not_open_the_circuit(provider_settings: Callable[..., Settings], dashscope: Fake) -> None:
    settings = provider_settings(breaker_failures=2)
    guard = GuardRegistry(settings).get("dashscope")
    async with make_client(settings) as client:
        for _ in range(3):
            dashscope.state.fail(400, code="InvalidParameter", message="bad size")
            with pytest.raises(ProviderError):
                await call(guard, client, "op", "POST", f"{dashscope.url}/api/v1/services/aigc/text2image/image-synthesis",
                           json={})
    assert guard.breaker.state == BreakerState.closed


def test_redact_removes_credentials() -> None:
    # the one redactor of logs and job errors (genloom.core.logging) covers what provider calls can carry
    text = ("Authorization: Bearer sk-abcdef123456 GET /x?access_token=abc123&api_key=zzz token=qq "
            "x-token: secret-token bearer abcdefghijk")
    out = redact(text)
    for secret in ("sk-abcdef123456", "abc123", "zzz", "qq", "secret-token", "abcdefghijk"):
        assert secret not in out


async def test_logs_carry_call_fields_but_no_key_or_prompt(
    provider_settings: Callable[..., Settings], dashscope: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    settings = provider_settings(text_provider="dashscope", dashscope_api_key=DASHSCOPE_KEY,
                                 dashscope_base_url=dashscope.url)
    providers = build_providers(settings)
    prompt = "my very private prompt about a purple giraffe"
    caplog.set_level(logging.DEBUG)
    try:
        dashscope.state.fail(429, retry_after=0, path="/chat/completions")
        await providers.text.complete([ChatMessage("user", prompt)])
        dashscope.state.fail(400, code="DataInspectionFailed", message="Input data may contain inappropriate content.")
        with pytest.raises(ProviderError):
            await providers.text.complete([ChatMessage("user", prompt)])
    finally:
        await providers.aclose()
    calls = [r for r in caplog.records if r.name == "genloom.providers"]
    assert len(calls) == 3
    first = calls[0]
    assert (first.provider, first.operation, first.status, first.attempt) == ("dashscope", "text.complete", 429, 1)  # type: ignore[attr-defined]
    assert calls[1].status == 200 and calls[1].attempt == 2  # type: ignore[attr-defined]
    assert all(isinstance(r.duration_ms, float) for r in calls)  # type: ignore[attr-defined]
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert DASHSCOPE_KEY not in text
    assert "purple giraffe" not in text
