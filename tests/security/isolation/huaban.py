"""Isolation matrix entries of HuaBan (README.md here). Its callers are anonymous clients (X-Client-Id).

``AWAITING`` lists the routes nobody has described yet: they are not covered. Move each into ``ROUTES`` (with
``create`` making an owned artwork) as the surface settles; the coverage test refuses any route in neither."""

from __future__ import annotations

from tests.security.isolation.matrix import Case, Context

OWNER = "owner_client"
ROUTES: dict[str, Case] = {}
AWAITING: tuple[str, ...] = (
    "POST /init", "POST /upload/presign", "POST /media/commit", "POST /media/upload", "GET /images",
    "POST /artworks", "GET /artworks/{artwork_id}", "PATCH /artworks/{artwork_id}", "DELETE /artworks/{artwork_id}",
    "GET /gallery", "POST /generation/jobs", "GET /generation/jobs/{job_id}", "POST /generation/jobs/{job_id}/retry",
    "POST /generation/jobs/{job_id}/capture", "GET /ai/analyses/{artwork_id}", "POST /ai/analyses/{artwork_id}",
    "GET /grow/profile", "POST /grow/profile", "GET /grow/report",
)


async def create(ctx: Context, owner: str) -> dict[str, str]:
    return {"marker": ""}
