"""Isolation matrix entries of GenFlow (README.md here). Its callers are signed-in users.

``AWAITING`` lists the routes nobody has described yet: they are not covered. Move each into ``ROUTES`` (with
``create`` making an owned article or assistant session) as the surface settles; the coverage test refuses any
route in neither."""

from __future__ import annotations

from tests.security.isolation.matrix import Case, Context

OWNER = "owner"
ROUTES: dict[str, Case] = {}
AWAITING: tuple[str, ...] = (
    "POST /articles", "GET /articles", "GET /articles/search", "GET /articles/{article_id}",
    "PUT /articles/{article_id}", "PATCH /articles/{article_id}", "DELETE /articles/{article_id}",
    "POST /articles/{article_id}/restore", "GET /articles/{article_id}/versions",
    "GET /articles/{article_id}/versions/{n}", "GET /articles/{article_id}/diff",
    "POST /articles/{article_id}/versions/{n}/restore", "PUT /articles/{article_id}/collaborators/{user_id}",
    "DELETE /articles/{article_id}/collaborators/{user_id}", "GET /articles/{article_id}/presence",
    "WS /ws/articles/{article_id}", "WS /ws/{client_id}",
    "POST /assistant/sessions", "GET /assistant/sessions", "GET /assistant/sessions/{session_id}",
    "DELETE /assistant/sessions/{session_id}", "GET /assistant/sessions/{session_id}/messages",
    "POST /assistant/sessions/{session_id}/messages", "GET /assistant/sessions/{session_id}/messages/{message_id}",
    "GET /assistant/sessions/{session_id}/messages/{message_id}/stream",
    "POST /assistant/sessions/{session_id}/messages/{message_id}/cancel", "POST /assistant/analyze",
    "POST /assistant/complete", "GET /assistant/usage",
)


async def create(ctx: Context, owner: str) -> dict[str, str]:
    return {"marker": ""}
