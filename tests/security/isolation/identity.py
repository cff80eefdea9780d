"""Isolation matrix entries of identity: /auth and /users (README.md here)."""

from __future__ import annotations

from tests.security.isolation.matrix import Case, Context, Custom, Unowned

OWNER = "owner"


async def create(ctx: Context, owner: str) -> dict[str, str]:
    """The owner's account, with an email address as the marker."""
    r = await ctx.client.patch("/users/me", json={"email": "alice-isolation@example.com"}, headers=ctx.headers[owner])
    assert r.status_code == 200, r.text
    return {"marker": "alice-isolation@example.com", "user_id": r.json()["id"]}


async def _me_is_yourself(ctx: Context, mine: dict[str, str]) -> None:
    for method, body in (("GET", None), ("PATCH", {"preferences": {"theme": "dark"}})):
        for caller in ("other_user", "admin"):
            r = await ctx.client.request(method, "/users/me", json=body, headers=ctx.headers[caller])
            assert r.status_code == 200 and r.json()["id"] != mine["user_id"] and mine["marker"] not in r.text, r.text
        for caller in ("other_client", "anonymous"):  # no account: refused before any lookup
            r = await ctx.client.request(method, "/users/me", json=body, headers=ctx.headers[caller])
            assert r.status_code == 401 and mine["marker"] not in r.text, (caller, r.text)
        r = await ctx.client.request(method, "/users/me", json=body, headers=ctx.headers["owner"])
        assert r.status_code == 200 and r.json()["id"] == mine["user_id"], r.text


async def _administrators_only(ctx: Context, mine: dict[str, str]) -> None:
    """User management answers non-administrators 401/403 with no data; an administrator sees the account."""
    uid = mine["user_id"]
    calls = (("GET", "/users", None), ("POST", "/users", {"username": "mallory", "password": "correct horse battery"}),
             ("PATCH", f"/users/{uid}", {"is_active": False}), ("DELETE", f"/users/{uid}", None))
    for caller in ("owner", "other_user", "other_client", "anonymous"):
        for method, path, body in calls:
            r = await ctx.client.request(method, path, json=body, headers=ctx.headers[caller])
            assert r.status_code in (401, 403) and mine["marker"] not in r.text, (caller, method, path, r.text)
    r = await ctx.client.get("/users", params={"limit": 200}, headers=ctx.headers["admin"])
    assert r.status_code == 200 and mine["marker"] in r.text, r.text[:300]


ROUTES: dict[str, Case] = {
    "POST /auth/register": Unowned("creates an account; the caller's identity is what it returns"),
    "POST /auth/login": Unowned("exchanges the caller's own password for tokens"),
    "POST /auth/refresh": Unowned("needs the refresh token's secret (tests/security/test_tokens.py: guessed "
                                  "and swapped secrets)"),
    "POST /auth/logout": Unowned("revokes the sign-in whose refresh secret is sent, or the caller's own"),
    "GET /users/me": Custom(_me_is_yourself),
    "PATCH /users/me": Custom(_me_is_yourself),
    "GET /users": Custom(_administrators_only),
    "POST /users": Custom(_administrators_only),
    "PATCH /users/{user_id}": Custom(_administrators_only),
    "DELETE /users/{user_id}": Custom(_administrators_only),
}
