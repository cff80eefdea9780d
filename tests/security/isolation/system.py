"""Isolation matrix entries of the shared plumbing: health, metrics, provider status (README.md here)."""

from __future__ import annotations

from tests.security.isolation.matrix import Case, Context, Unowned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    return {"marker": ""}


ROUTES: dict[str, Case] = {
    "GET /health": Unowned("dependency status of the process"),
    "GET /healthz": Unowned("liveness"),
    "GET /metrics": Unowned("Prometheus counters, no ids or user text (tests/surfaces/test_metrics.py)"),
    "GET /v1/providers": Unowned("configured providers and their circuit state"),
}
