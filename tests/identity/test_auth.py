"""Register, sign in, refresh with rotation and reuse detection, sign out, lockout, token tampering."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import select

from genloom.core.db import utc_now
from genloom.identity import tokens
from genloom.identity.models import RefreshToken, User
from genloom.runtime import Runtime
from tests.identity.conftest import PASSWORD, bearer, create_user, login


class TestRegister:
    async def test_register_then_login(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/auth/register", json={"username": "Mei", "password": PASSWORD, "email": "mei@example.com"})
        assert r.status_code == 201, r.text
        user = r.json()
        assert user["username"] == "Mei" and user["roles"] == ["user"] and user["is_active"] is True
        assert user["owner_id"] == f"u:{user['id']}"
        assert "password" not in json.dumps(user) and "hash" not in json.dumps(user)

        pair = await login(client, "mei")  # usernames match without regard to case
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 15 * 60
        assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
        me = await client.get("/users/me", headers=bearer(pair))
        assert me.status_code == 200 and me.json()["id"] == user["id"]

        by_email = await login(client, "MEI@example.com")
        assert by_email["access_token"]

    async def test_duplicates_and_bad_input(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/auth/register", json={"username": "mei", "password": PASSWORD,
                                                          "email": "m@example.com"})).status_code == 201
        r = await client.post("/auth/register", json={"username": "MEI", "password": PASSWORD})
        assert r.status_code == 409 and r.json()["code"] == "username_taken" and r.json()["field"] == "username"
        r = await client.post("/auth/register", json={"username": "other", "password": PASSWORD, "email": "M@example.com"})
        assert r.status_code == 409 and r.json()["code"] == "email_taken"
        r = await client.post("/auth/register", json={"username": "shorty", "password": "short"})
        assert r.status_code == 400 and r.json()["code"] == "weak_password" and r.json()["field"] == "password"
        for bad, field in (({"username": "ab", "password": PASSWORD}, "username"),
                           ({"username": "bad name!", "password": PASSWORD}, "username"),
                           ({"username": "x" * 33, "password": PASSWORD}, "username"),
                           ({"username": "okname", "password": PASSWORD, "email": "not-an-email"}, "email"),
                           ({"username": "okname", "password": PASSWORD, "roles": ["admin"]}, "roles")):
            r = await client.post("/auth/register", json=bad)
            assert r.status_code == 400, bad
            assert r.json()["field"] == field, (bad, r.json())
        async with client._transport.app.state.runtime.db.read_session() as s:  # type: ignore[attr-defined]
            names = sorted(u.username for u in (await s.execute(select(User))).scalars())
        assert names == ["mei"]  # nothing half-written

    async def test_admin_only_registration(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        runtime.settings.registration = "admin"
        r = await client.post("/auth/register", json={"username": "mei", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["code"] == "registration_closed"
        await create_user(runtime, "boss", admin=True)
        await create_user(runtime, "plain")
        plain = await login(client, "plain")
        r = await client.post("/auth/register", json={"username": "mei", "password": PASSWORD}, headers=bearer(plain))
        assert r.status_code == 403
        admin = await login(client, "boss")
        r = await client.post("/auth/register", json={"username": "mei", "password": PASSWORD}, headers=bearer(admin))
        assert r.status_code == 201 and r.json()["roles"] == ["user"]
        runtime.settings.registration = "closed"
        r = await client.post("/auth/register", json={"username": "kai", "password": PASSWORD}, headers=bearer(admin))
        assert r.status_code == 403


class TestLogin:
    async def test_oauth2_password_form(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        r = await client.post("/auth/login", data={"grant_type": "password", "username": "mei", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"
        r = await client.post("/auth/login", data={"grant_type": "client_credentials", "username": "mei", "password": PASSWORD})
        assert r.status_code == 400 and r.json()["code"] == "unsupported_grant_type"
        r = await client.post("/auth/login", content=b"{nope", headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == "invalid_json"
        r = await client.post("/auth/login", json={"username": "mei"})
        assert r.status_code == 400 and r.json()["field"] == "password"

    async def test_wrong_password_and_unknown_user_answer_alike(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        wrong = await client.post("/auth/login", json={"username": "mei", "password": "nope nope nope"})
        unknown = await client.post("/auth/login", json={"username": "ghost", "password": "nope nope nope"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
        assert wrong.json()["message"] == unknown.json()["message"]

    async def test_lockout_after_repeated_failures(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user_id = await create_user(runtime, "mei")
        await login(client, "mei")
        for _ in range(3):  # login_max_failures=3 in these tests
            r = await client.post("/auth/login", json={"username": "mei", "password": "wrong password"})
            assert r.status_code == 401
        r = await client.post("/auth/login", json={"username": "mei", "password": PASSWORD})
        assert r.status_code == 429 and r.json()["code"] == "account_locked"
        assert 0 < int(r.headers["Retry-After"]) <= 600
        # the lock is stored, so every replica sees it; an admin can lift it
        async with runtime.db.read_session() as s:
            user = await s.get(User, user_id)
            assert user is not None and user.locked_until is not None and user.locked_until > utc_now()
        await create_user(runtime, "boss", admin=True)
        admin = await login(client, "boss")
        r = await client.patch(f"/users/{user_id}", json={"unlock": True}, headers=bearer(admin))
        assert r.status_code == 200
        assert (await login(client, "mei"))["access_token"]

    async def test_success_resets_the_failure_count(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        for _ in range(2):
            assert (await client.post("/auth/login", json={"username": "mei", "password": "wrong!!!"})).status_code == 401
        await login(client, "mei")
        for _ in range(2):
            assert (await client.post("/auth/login", json={"username": "mei", "password": "wrong!!!"})).status_code == 401
        await login(client, "mei")

    async def test_disabled_account(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user_id = await create_user(runtime, "mei")
        pair = await login(client, "mei")
        await create_user(runtime, "boss", admin=True)
        admin = await login(client, "boss")
        assert (await client.patch(f"/users/{user_id}", json={"is_active": False}, headers=bearer(admin))).status_code == 200
        r = await client.post("/auth/login", json={"username": "mei", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["code"] == "account_disabled"
        assert (await client.get("/users/me", headers=bearer(pair))).status_code == 401
        r = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401


class TestRefresh:
    async def test_rotation(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        first = await login(client, "mei")
        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert (await client.get("/users/me", headers=bearer(second))).status_code == 200
        third = (await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
        assert (await client.get("/users/me", headers=bearer(third))).status_code == 200
        async with runtime.db.read_session() as s:
            rows = list((await s.execute(select(RefreshToken))).scalars())
        assert len(rows) == 3 and len({r.family_id for r in rows}) == 1
        assert all(r.token_hash not in (first["refresh_token"], second["refresh_token"]) for r in rows)

    async def test_reuse_revokes_the_family(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        stolen = await login(client, "mei")
        other_device = await login(client, "mei")
        legit = (await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})).json()
        r = await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert r.status_code == 401 and r.json()["code"] == "refresh_token_reused"
        # the legitimate descendant is revoked too (committed despite the error answer)
        r = await client.post("/auth/refresh", json={"refresh_token": legit["refresh_token"]})
        assert r.status_code == 401 and r.json()["code"] == "refresh_token_revoked"
        # another sign-in (another family) is untouched
        r = await client.post("/auth/refresh", json={"refresh_token": other_device["refresh_token"]})
        assert r.status_code == 200

    async def test_oauth2_refresh_form(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        pair = await login(client, "mei")
        r = await client.post("/auth/refresh", data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"
        r = await client.post("/auth/refresh", data={"grant_type": "password", "refresh_token": r.json()["refresh_token"]})
        assert r.status_code == 400 and r.json()["code"] == "unsupported_grant_type"
        r = await client.post("/auth/refresh", json={})
        assert r.status_code == 400 and r.json()["field"] == "refresh_token"

    async def test_concurrent_refresh_with_one_token(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        """Two refreshes racing with one token: exactly one wins, and the race counts as reuse."""
        import asyncio

        await create_user(runtime, "mei")
        pair = await login(client, "mei")
        answers = await asyncio.gather(*(client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
                                         for _ in range(2)))
        assert sorted(r.status_code for r in answers) == [200, 401]
        winner = next(r for r in answers if r.status_code == 200).json()
        assert next(r for r in answers if r.status_code == 401).json()["code"] == "refresh_token_reused"
        r = await client.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
        assert r.status_code == 401

    async def test_bad_refresh_tokens(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        pair = await login(client, "mei")
        row_id, secret = pair["refresh_token"].split(".", 1)
        for bad in ("garbage", f"{row_id}.{secret[:-2]}xx", pair["access_token"], f"{row_id}."):
            r = await client.post("/auth/refresh", json={"refresh_token": bad})
            assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token", bad
        async with runtime.db.session() as s:
            row = await s.get(RefreshToken, row_id)
            assert row is not None
            row.expires_at = utc_now() - timedelta(seconds=1)
        r = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401 and r.json()["code"] == "token_expired"


class TestLogout:
    async def test_logout_revokes_the_refresh_token(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        pair = await login(client, "mei")
        r = await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 204
        r = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401
        # signing out twice is not an error
        assert (await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
        assert (await client.post("/auth/logout", json={})).status_code == 400

    async def test_logout_everywhere(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        a, b = await login(client, "mei"), await login(client, "mei")
        assert (await client.post("/auth/logout", json={"everywhere": True})).status_code == 401
        assert (await client.post("/auth/logout", json={"everywhere": True}, headers=bearer(a))).status_code == 204
        for pair in (a, b):
            assert (await client.get("/users/me", headers=bearer(pair))).status_code == 401
            assert (await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class TestAccessTokens:
    async def test_tampering_expiry_and_alg_none(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user_id = await create_user(runtime, "mei")
        admin_id = await create_user(runtime, "boss", admin=True)
        pair = await login(client, "mei")
        good = pair["access_token"]
        header, payload, signature = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["sub"] == user_id and claims["typ"] == "access"

        forged = f"{header}.{_b64({**claims, 'sub': admin_id})}.{signature}"
        none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'sub': admin_id})}."
        other_key = jwt.encode(claims, "some-other-secret-that-is-long-enough!!", algorithm="HS256")
        expired, _ = tokens.encode_access(runtime.settings, user_id=user_id, token_version=0,
                                          now=utc_now() - timedelta(hours=2))
        wrong_type = jwt.encode({**claims, "typ": "refresh"}, tokens.signing_key(runtime.settings), algorithm="HS256")
        for token, code in ((forged, "invalid_token"), (none_alg, "invalid_token"), (other_key, "invalid_token"),
                            (expired, "token_expired"), (wrong_type, "invalid_token"), ("not.a.jwt", "invalid_token")):
            r = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and r.json()["code"] == code, (token, r.json())
            # a bad token is refused even on an open surface (it never degrades to anonymous)
            r = await client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
        assert (await client.get("/users/me", headers=bearer(pair))).status_code == 200

    async def test_deleted_user_token_stops_working(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user_id = await create_user(runtime, "mei")
        pair = await login(client, "mei")
        await create_user(runtime, "boss", admin=True)
        admin = await login(client, "boss")
        assert (await client.delete(f"/users/{user_id}", headers=bearer(admin))).status_code == 204
        assert (await client.get("/users/me", headers=bearer(pair))).status_code == 401


@pytest.mark.parametrize("secret", ["", "a-dedicated-jwt-secret"])
def test_signing_key_is_not_the_raw_secret(secret: str) -> None:
    from tests.conftest import make_settings

    settings = make_settings(secret_key="the-app-secret", jwt_secret=secret)
    key = tokens.signing_key(settings)
    assert len(key) == 32 and key not in (b"the-app-secret", secret.encode())


async def test_prune_expired_refresh_tokens(client: httpx.AsyncClient, runtime: Runtime) -> None:
    from genloom.identity.auth import prune_refresh_tokens

    await create_user(runtime, "mei")
    old, fresh = await login(client, "mei"), await login(client, "mei")
    async with runtime.db.session() as s:
        row = await s.get(RefreshToken, old["refresh_token"].split(".")[0])
        assert row is not None
        row.expires_at = utc_now() - timedelta(days=3)
    async with runtime.db.session() as s:
        assert await prune_refresh_tokens(s, older_than=utc_now() - timedelta(days=1)) == 1
    assert (await client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})).status_code == 200


async def test_openapi_authorize_button(client: httpx.AsyncClient) -> None:
    """The OpenAPI document lets its "Authorize" dialog sign in (password flow) or set a client id."""
    doc = (await client.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["Bearer"]["flows"]["password"]["tokenUrl"] == "/auth/login"
    assert schemes["ClientId"] == {**schemes["ClientId"], "type": "apiKey", "in": "header", "name": "X-Client-Id"}
    login_body = doc["paths"]["/auth/login"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(login_body)
    assert {"Bearer": []} in doc["paths"]["/v1/jobs"]["post"]["security"]
    assert {"Auth", "Users"} <= {t["name"] for t in doc["tags"]}
