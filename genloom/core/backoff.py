"""Exponential backoff with jitter: one formula for job retries, provider call retries and outage waits.

The ceiling doubles per attempt from ``base`` up to ``cap``; *full* jitter draws the delay from
``[0, ceiling]`` (spreads a crowd of retries best, AWS's "Exponential Backoff And Jitter"), *equal* jitter from
``[ceiling/2, ceiling]`` (never retries at once: for reconnect loops against a server that is down).
"""

from __future__ import annotations

import random


def ceiling(attempt: int, *, base: float, cap: float) -> float:
    return min(cap, base * float(2 ** max(0, attempt - 1)))


def full_jitter(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    top = ceiling(attempt, base=base, cap=cap)
    return (rng or random).uniform(0, top) if top > 0 else 0.0


def equal_jitter(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    top = ceiling(attempt, base=base, cap=cap)
    return top / 2 + (rng or random).uniform(0, top / 2)
