"""Access and refresh token edge cases beyond tests/identity: keys and algorithms, claim types, time claims,
role changes seen at once, WebSocket tokens, and refresh tokens that are guessed, swapped or outlived."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from genloom.core.settings import AuthMode
from genloom.identity import tokens
from genloom.runtime import Runtime
from tests.identity.conftest import bearer, create_user, login


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


async def _refused(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, (token, r.text)
    # never a silent fall-back to the anonymous owner on an open surface
    assert (await client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})).status_code == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_forged_and_odd_access_tokens(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user_id = await create_user(runtime, "mei")
    good = (await login(client, "mei"))["access_token"]
    claims = _claims(good)
    key = tokens.signing_key(runtime.settings)
    now = int(time.time())
    bad = [
        jwt.encode(claims, runtime.settings.secret_key, algorithm="HS256"),  # the raw secret, not the derived key
        jwt.encode(claims, key, algorithm="HS512"),  # the right key, another algorithm
        jwt.encode({**claims, "iss": "someone-else"}, key, algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key, algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "typ"}, key, algorithm="HS256"),
        jwt.encode({**claims, "iat": now + 3600, "exp": now + 7200}, key, algorithm="HS256"),  # issued in the future
        jwt.encode({**claims, "nbf": now + 3600}, key, algorithm="HS256"),
        jwt.encode({**claims, "ver": "0"}, key, algorithm="HS256"),
        jwt.encode({**claims, "ver": 0.0}, key, algorithm="HS256"),
        jwt.encode({**claims, "ver": -1}, key, algorithm="HS256"),
        jwt.encode({**claims, "sub": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"}, key, algorithm="HS256"),  # no such user
        jwt.encode({**claims, "sub": [user_id]}, key, algorithm="HS256"),
        jwt.encode({**claims, "sub": "c:device-xxxx-1"}, key, algorithm="HS256"),
        jwt.encode({**claims, "sub": user_id.upper() + " "}, key, algorithm="HS256"),
        good + "x", good.replace(".", "..", 1), " ".join([good, good]),
    ]
    for token in bad:
        await _refused(client, token)
    # a refresh token is not an access token, nor the other way round
    pair = await login(client, "mei")
    await _refused(client, pair["refresh_token"])
    r = await client.post("/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert r.status_code == 401
    assert (await client.get("/users/me", headers=bearer(pair))).status_code == 200


async def test_ver_of_a_bool_is_not_an_int(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """``True == 1`` in Python: a token claiming ``ver: true`` must not pass for version 1."""
    await create_user(runtime, "mei")
    pair = await login(client, "mei")
    # bump token_version to 1 (sign out everywhere), then forge ver=true with the real key
    r = await client.post("/auth/logout", json={"everywhere": True}, headers=bearer(pair))
    assert r.status_code in (200, 204), r.text
    fresh = await login(client, "mei")
    claims = _claims(fresh["access_token"])
    assert claims["ver"] == 1
    forged = jwt.encode({**claims, "ver": True}, tokens.signing_key(runtime.settings), algorithm="HS256")
    await _refused(client, forged)


async def test_role_changes_apply_to_live_tokens(client: httpx.AsyncClient, runtime: Runtime) -> None:
    mei_id = await create_user(runtime, "mei", admin=True)
    await create_user(runtime, "boss", admin=True)
    mei, boss = await login(client, "mei"), await login(client, "boss")
    assert (await client.get("/users", headers=bearer(mei))).status_code == 200
    r = await client.patch(f"/users/{mei_id}", json={"roles": ["user"]}, headers=bearer(boss))
    assert r.status_code == 200, r.text
    # the same, unexpired token no longer carries admin rights
    assert (await client.get("/users", headers=bearer(mei))).status_code == 403


async def test_refresh_token_guessing_and_swapping(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await create_user(runtime, "mei")
    await create_user(runtime, "kai")
    mei, kai = await login(client, "mei"), await login(client, "kai")
    mei_id, mei_secret = mei["refresh_token"].split(".", 1)
    kai_id, kai_secret = kai["refresh_token"].split(".", 1)
    for token in (f"{mei_id}.{kai_secret}", f"{kai_id}.{mei_secret}", f"{mei_id}.{'A' * 43}", f"{mei_id}.",
                  f"{mei_id.upper()}.{mei_secret}", f"{mei_id}.{mei_secret}x", f" {mei_id}.{mei_secret[:-1]}"):
        r = await client.post("/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token", (token, r.text)
    # guesses did not revoke the real sign-ins (only a replay of a used token does)
    for pair in (mei, kai):
        r = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 200, r.text
        assert _claims(r.json()["access_token"])["sub"] == _claims(pair["access_token"])["sub"]


async def test_refresh_after_password_change_and_deactivation(client: httpx.AsyncClient, runtime: Runtime) -> None:
    mei_id = await create_user(runtime, "mei")
    await create_user(runtime, "boss", admin=True)
    boss = await login(client, "boss")
    first = await login(client, "mei")
    r = await client.patch(f"/users/{mei_id}", json={"password": "a brand new password"}, headers=bearer(boss))
    assert r.status_code == 200, r.text
    assert (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).status_code == 401
    assert (await client.get("/users/me", headers=bearer(first))).status_code == 401
    second = await login(client, "mei", "a brand new password")
    r = await client.patch(f"/users/{mei_id}", json={"is_active": False}, headers=bearer(boss))
    assert r.status_code == 200, r.text
    assert (await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await client.get("/users/me", headers=bearer(second))).status_code == 401


@pytest.mark.parametrize("mode", ["open", "user"])
async def test_websocket_tokens_are_checked(client: httpx.AsyncClient, runtime: Runtime, live_server: Any,
                                            mode: str) -> None:
    runtime.settings.auth_mode_native = AuthMode(mode)
    runtime.settings.auth_mode_cinemind = AuthMode(mode)
    user_id = await create_user(runtime, "mei")
    expired, _ = tokens.encode_access(runtime.settings, user_id=user_id, token_version=0,
                                      now=__import__("genloom.core.db", fromlist=["utc_now"]).utc_now()
                                      - __import__("datetime").timedelta(hours=2))
    good = (await login(client, "mei"))["access_token"]
    async with live_server(workers=0) as url:
        base = url.replace("http://", "ws://")
        for path in ("/v1/ws", "/ws/tasks"):
            for query in (f"token={expired}", "token=not.a.jwt", f"access_token={good}x"):
                with pytest.raises(InvalidStatus) as info:
                    async with connect(f"{base}{path}?{query}"):
                        pass
                assert info.value.response.status_code == 403, (path, query)
            async with connect(f"{base}{path}?token={good}") as ws:
                await ws.send(json.dumps({"op": "ping", "type": "ping"}))
                assert json.loads(await ws.recv())


async def test_users_cannot_raise_their_own_rights(client: httpx.AsyncClient, runtime: Runtime) -> None:
    mei_id = await create_user(runtime, "mei")
    mei = await login(client, "mei")
    for body in ({"roles": ["admin"]}, {"is_active": True, "roles": ["admin", "user"]}, {"token_version": 0},
                 {"owner_id": "public"}, {"unlock": True}):
        r = await client.patch("/users/me", json=body, headers=bearer(mei))
        assert r.status_code in (400, 403, 422), (body, r.status_code, r.text)
    r = await client.patch(f"/users/{mei_id}", json={"roles": ["admin"]}, headers=bearer(mei))
    assert r.status_code in (403, 404)
    r = await client.post("/auth/register", json={"username": "sneaky", "password": "long enough pw",
                                                   "roles": ["admin"]})
    if r.status_code in (200, 201):
        assert "admin" not in r.json().get("roles", [])
    me = (await client.get("/users/me", headers=bearer(await login(client, "mei")))).json()
    assert me["roles"] == ["user"]
    assert (await client.get("/users", headers=bearer(mei))).status_code == 403
