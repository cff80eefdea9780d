"""Isolation matrix entries of Studio Core (README.md here)."""

from __future__ import annotations

from tests.security.isolation import native
from tests.security.isolation.matrix import Case, Context, Owned, Unowned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    return await native.create(ctx, owner)  # Studio polls native jobs: /api/status/{job_id}


ROUTES: dict[str, Case] = {
    "POST /api/generate": Unowned("creates the caller's own job; GET /api/status/{job_id} proves the scoping"),
    "GET /api/status/{job_id}": Owned(),
}
