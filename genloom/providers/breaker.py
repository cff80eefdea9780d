"""The circuit breaker of one provider: closed while calls succeed, open (calls refused at once) after a run of
failures, half-open (one trial call) when the cool-down ends or a health probe finds the provider answering."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from genloom.providers.base import ProviderUnavailable

#: while the half-open trial call is out, other callers are told to come back this soon (seconds), not after a
#: whole cool-down: the trial usually settles it within one call's time
HALF_OPEN_RECHECK_SECONDS = 2.0


class BreakerState(StrEnum):
    closed = "closed"  #: calls flow
    open = "open"  #: calls are rejected at once until the cool-down ends
    half_open = "half_open"  #: one probe call decides whether to close or reopen


class CircuitBreaker:
    """Opens after ``failures`` consecutive failed attempts; while open rejects at once; after ``cooldown``
    seconds lets exactly one probe through (half-open): success closes it, failure reopens it."""

    def __init__(self, provider: str, *, failures: int, cooldown: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.state = BreakerState.closed
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.probe_in_flight = False
        self.opened_count = 0
        self.last_error: str | None = None

    def remaining(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self.clock() - self.opened_at))

    def acquire(self) -> bool:
        """Allow one attempt or raise ProviderUnavailable. Returns True when the attempt is the half-open probe."""
        if self.state == BreakerState.open and self.remaining() <= 0:
            self.state = BreakerState.half_open
            self.probe_in_flight = False
        if self.state == BreakerState.closed:
            return False
        if self.state == BreakerState.half_open and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        wait = self.remaining() if self.state == BreakerState.open else min(self.cooldown, HALF_OPEN_RECHECK_SECONDS)
        raise ProviderUnavailable(
            f"{self.provider}: temporarily unavailable after {self.consecutive_failures} consecutive failures; "
            f"retry in {wait:.0f}s",
            provider=self.provider, retryable=True, retry_after=wait,
        )

    def success(self) -> None:
        self.state = BreakerState.closed
        self.consecutive_failures = 0
        self.opened_at = None
        self.probe_in_flight = False

    def failure(self, reason: str) -> None:
        self.consecutive_failures += 1
        self.last_error = reason
        if self.state == BreakerState.half_open or self.consecutive_failures >= self.threshold:
            if self.state != BreakerState.open:
                self.opened_count += 1
            self.state = BreakerState.open
            self.opened_at = self.clock()
            self.probe_in_flight = False

    def release_probe(self) -> None:
        """The probe ended without a verdict (canceled): let the next caller probe."""
        self.probe_in_flight = False

    def trip(self, reason: str) -> None:
        """Open now (a health probe found the host refusing connections); a breaker already open keeps its
        cool-down."""
        self.last_error = reason
        if self.state == BreakerState.open:
            return
        self.opened_count += 1
        self.state = BreakerState.open
        self.opened_at = self.clock()
        self.probe_in_flight = False

    def end_cooldown(self) -> None:
        """The provider answered a health probe: if open, let the next call through as the trial call now."""
        if self.state == BreakerState.open:
            self.state = BreakerState.half_open
            self.opened_at = None
            self.probe_in_flight = False

    def status(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "consecutive_failures": self.consecutive_failures,
            "opened_count": self.opened_count,
            "retry_in_seconds": round(self.remaining(), 3) if self.state == BreakerState.open else 0.0,
            "last_error": self.last_error,
        }
