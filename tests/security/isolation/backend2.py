"""Isolation matrix entries of Backend2: ratings and the subtasks view of a job (README.md here)."""

from __future__ import annotations

from tests.security.isolation import native
from tests.security.isolation.matrix import Case, Context, Owned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """A finished job with the owner's rating (whose comment carries the marker)."""
    mine = await native.create(ctx, owner)
    r = await ctx.client.put(f"/v1/jobs/{mine['job_id']}/rating", headers=ctx.headers[owner],
                             json={"score": 4, "comment": f"good colours {mine['marker']}"})
    assert r.status_code in (200, 201), r.text
    return mine


ROUTES: dict[str, Case] = {
    "GET /v1/jobs/{job_id}/subtasks": Owned(),
    "GET /v1/jobs/{job_id}/rating": Owned(),
    "PUT /v1/jobs/{job_id}/rating": Owned(json={"score": 1, "comment": "taken over"}, admin_sees=False),
    "DELETE /v1/jobs/{job_id}/rating": Owned(ok=(204,), destructive=True),
}
