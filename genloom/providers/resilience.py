"""What every remote provider call goes through: a circuit breaker, a concurrency limit, retries with
exponential backoff and full jitter (honouring ``Retry-After``), error classification, and one log line per
attempt with the provider, operation, status, duration and attempt number.

One :class:`ProviderGuard` exists per provider name per process (the factory builds them and exposes them in
``Providers.health`` for ``GET /v1/providers``). Clients describe one HTTP exchange as a coroutine and hand
it to :meth:`ProviderGuard.run`, or use :func:`genloom.providers.http.call`, which does that for them.

Logs never carry bodies, prompts, URLs with queries or keys: only the fields above, the provider's error
*code* and a redacted exception class name.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from genloom.core.backoff import full_jitter
from genloom.core.settings import Settings
from genloom.providers.base import ProviderError
from genloom.providers.breaker import BreakerState, CircuitBreaker

log = logging.getLogger("genloom.providers")

T = TypeVar("T")

#: HTTP statuses worth another try (PROVIDERS.md §6)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: 429 codes that mean "quota or billing", where waiting a few seconds does not help
QUOTA_CODES = frozenset({
    "insufficient_quota", "throttling.allocationquota", "accountquotaexceeded", "setlimitexceeded", "arrearage",
    "quotaexceeded",
})

#: provider codes that mean content moderation refused the input or output (never retried)
_POLICY_PATTERN = re.compile(
    r"datainspection|sensitive|moderation|content_policy|content_filter|illegal|inappropriate|risk", re.I
)

#: maximum Retry-After we honour inside one call; longer waits go back to the queue
MAX_INLINE_RETRY_AFTER = 60.0

#: answers that speak for the provider as a whole (a gateway that cannot reach it, "service unavailable"), not
#: for one request: like a refused connection, they mark an outage (jobs wait instead of using up attempts)
OUTAGE_STATUSES = frozenset({502, 503, 504})



# --- classification ----------------------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), else None."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def is_policy_code(code: str | None) -> bool:
    """Whether a provider error code means content moderation refused the input or output."""
    return bool(code and _POLICY_PATTERN.search(code))


def classify(
    provider: str,
    status: int,
    *,
    code: str | None = None,
    message: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The ProviderError for an HTTP error answer: retryable or not, with the provider's reason as message."""
    reason = (message or "").strip() or f"HTTP {status}"
    text = f"{provider}: {code + ': ' if code else ''}{reason}"
    low = (code or "").lower()
    if is_policy_code(code) or (status == 400 and not code and _POLICY_PATTERN.search(reason)):
        return ProviderError(text, provider=provider, status=status, code="content_policy", retryable=False)
    if status in (401, 403):
        return ProviderError(text, provider=provider, status=status, code="provider_auth", retryable=False)
    if status == 429 and (low in QUOTA_CODES or "quota" in low and "rate" not in low):
        return ProviderError(text, provider=provider, status=status, code="provider_quota", retryable=False)
    if status in RETRYABLE_STATUSES:
        return ProviderError(text, provider=provider, status=status,
                             code="provider_rate_limited" if status == 429 else "provider_unavailable_status",
                             retryable=True, retry_after=retry_after)
    if status == 413:
        return ProviderError(text, provider=provider, status=status, code="provider_too_large", retryable=False)
    return ProviderError(text, provider=provider, status=status, code="provider_bad_request", retryable=False)


def transport_error(provider: str, exc: Exception) -> ProviderError:
    """A ProviderError for a timeout or connection failure (always retryable)."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"{provider}: timed out ({type(exc).__name__})", provider=provider,
                             code="provider_timeout", retryable=True)
    return ProviderError(f"{provider}: connection failed ({type(exc).__name__})", provider=provider,
                         code="provider_connection", retryable=True)


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**(attempt-1))), but never less than Retry-After."""
    delay = full_jitter(attempt, base=base, cap=cap, rng=rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_INLINE_RETRY_AFTER))
    return delay


# --- the guard ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """What an attempt tells the guard about itself (set by the attempt function for the log line)."""

    number: int
    status: int | None = None


class ProviderGuard:
    """Breaker + concurrency limit + retry loop + call log for one provider."""

    def __init__(
        self,
        provider: str,
        *,
        max_retries: int = 3,
        concurrency: int = 4,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.breaker = CircuitBreaker(provider, failures=breaker_failures, cooldown=breaker_cooldown, clock=clock)
        self._semaphore = asyncio.Semaphore(concurrency)
        self.in_flight = 0
        self.calls = 0
        self.failures = 0

    @classmethod
    def from_settings(cls, provider: str, settings: Settings) -> ProviderGuard:
        return cls(
            provider,
            max_retries=settings.provider_max_retries,
            concurrency=settings.provider_concurrency,
            breaker_failures=settings.breaker_failures,
            breaker_cooldown=settings.breaker_cooldown_seconds,
            backoff_base=settings.provider_backoff_base_seconds,
            backoff_cap=settings.provider_backoff_cap_seconds,
        )

    def status(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "breaker": self.breaker.status(),
            "concurrency": self.concurrency,
            "in_flight": self.in_flight,
            "calls": self.calls,
            "failures": self.failures,
        }

    async def run(
        self,
        operation: str,
        attempt_fn: Callable[[Attempt], Awaitable[T]],
        *,
        idempotent: bool = True,
        max_retries: int | None = None,
    ) -> T:
        """Run ``attempt_fn`` until it returns, retrying retryable ProviderErrors with backoff.

        ``attempt_fn`` raises :class:`ProviderError` (classified) or lets httpx transport errors escape.
        A non-idempotent operation (one that creates a paid task) is retried only when the request provably
        did not reach the provider (connect error) or the provider said 429/5xx; never after a read timeout.
        """
        retries = self.max_retries if max_retries is None else max_retries
        number = 0
        while True:
            number += 1
            probe = self.breaker.acquire()
            attempt = Attempt(number)
            started = time.perf_counter()
            error: ProviderError | None = None
            sent = True
            try:
                async with self._semaphore:
                    self.in_flight += 1
                    self.calls += 1
                    try:
                        result = await attempt_fn(attempt)
                    finally:
                        self.in_flight -= 1
            except ProviderError as exc:
                error = exc
                if attempt.status is None:
                    attempt.status = exc.http_status
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                error = transport_error(self.provider, exc)
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            except asyncio.CancelledError:
                if probe:
                    self.breaker.release_probe()
                self._log(operation, attempt, started, "canceled", None)
                raise
            except BaseException:
                # a bug or an unexpected exception is no verdict on the provider, but must not wedge the probe
                if probe:
                    self.breaker.release_probe()
                raise
            else:
                self.breaker.success()
                self._log(operation, attempt, started, "ok", None)
                return result

            # An error the provider answered deliberately (bad request, policy, auth) says nothing about its health.
            if error.retryable:
                self.failures += 1
                self.breaker.failure(error.code)
            else:
                self.breaker.success()
            self._log(operation, attempt, started, "retryable" if error.retryable else "failed", error)
            may_retry = error.retryable and number <= retries
            if may_retry and not idempotent:
                may_retry = not sent or (error.http_status is not None and error.http_status in RETRYABLE_STATUSES)
            if may_retry and error.retry_after is not None and error.retry_after > MAX_INLINE_RETRY_AFTER:
                may_retry = False  # a long wait belongs to the queue, not to a held worker slot
            if not may_retry or self.breaker.state == BreakerState.open:
                raise self._as_outage(error, reached=sent)
            await asyncio.sleep(backoff_delay(number, base=self.backoff_base, cap=self.backoff_cap,
                                              retry_after=error.retry_after))

    def _as_outage(self, error: ProviderError, *, reached: bool) -> ProviderError:
        """Mark a retryable failure as an outage when it speaks for the provider as a whole: the connection was
        refused or timed out before the request was sent, the answer was 502/503/504, or the breaker is open
        now. Its ``retry_after`` is then never inside the breaker's cool-down (the queue parks the job until the
        next trial call)."""
        if not error.retryable:
            return error
        is_open = self.breaker.state == BreakerState.open
        if not reached or error.http_status in OUTAGE_STATUSES or is_open:
            error.outage = True
        if is_open:
            error.retry_after = max(error.retry_after or 0.0, self.breaker.remaining())
        return error

    def _log(self, operation: str, attempt: Attempt, started: float, outcome: str,
             error: ProviderError | None) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        status = attempt.status if attempt.status is not None else "-"
        extra = {
            "provider": self.provider, "operation": operation, "status": attempt.status, "duration_ms": duration_ms,
            "attempt": attempt.number, "outcome": outcome, "error_code": error.code if error else None,
        }
        level = logging.INFO if outcome == "ok" else logging.WARNING
        code = f" error={error.code}" if error else ""
        log.log(level, "provider=%s op=%s status=%s duration_ms=%s attempt=%d outcome=%s%s",
                self.provider, operation, status, duration_ms, attempt.number, outcome, code, extra=extra)


class GuardRegistry:
    """One guard per provider name, created on first use, plus the HTTP clients shared between a provider's
    capabilities (one connection pool per credential). The composition root builds one per runtime, so every
    capability served by one provider shares its circuit breaker and concurrency limit, and tests never share
    state."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._guards: dict[str, ProviderGuard] = {}
        self.clients: dict[str, Any] = {}

    def get(self, provider: str) -> ProviderGuard:
        guard = self._guards.get(provider)
        if guard is None:
            guard = self._guards[provider] = ProviderGuard.from_settings(provider, self.settings)
        return guard

    def items(self) -> list[tuple[str, ProviderGuard]]:
        return list(self._guards.items())
