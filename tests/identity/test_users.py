"""/users/me and the administrators' /users routes; permission checks per role."""

from __future__ import annotations

import httpx
import pytest

from genloom.core.principal import ANONYMOUS, SYSTEM, Principal, permissions_for
from genloom.identity import service
from genloom.identity.errors import LastAdmin, PermissionDenied
from genloom.runtime import Runtime
from tests.identity.conftest import PASSWORD, bearer, create_user, login


class TestMe:
    async def test_needs_a_user(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/users/me")
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
        r = await client.get("/users/me", headers={"X-Client-Id": "client-abc-123"})
        assert r.status_code == 401

    async def test_preferences_merge_patch(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        auth = bearer(await login(client, "mei"))
        r = await client.patch("/users/me", json={"preferences": {"theme": "dark", "editor": {"font": 14, "wrap": True}}},
                               headers=auth)
        assert r.status_code == 200 and r.json()["preferences"]["editor"] == {"font": 14, "wrap": True}
        r = await client.patch("/users/me", json={"preferences": {"theme": None, "editor": {"font": 16}}}, headers=auth)
        assert r.json()["preferences"] == {"editor": {"font": 16, "wrap": True}}
        r = await client.patch("/users/me", json={"email": "mei@example.com"}, headers=auth)
        assert r.status_code == 200 and r.json()["email"] == "mei@example.com"
        r = await client.patch("/users/me", json={"email": None}, headers=auth)
        assert r.json()["email"] is None and r.json()["preferences"] == {"editor": {"font": 16, "wrap": True}}
        r = await client.patch("/users/me", json={"roles": ["admin"]}, headers=auth)
        assert r.status_code == 400 and r.json()["field"] == "roles"

    async def test_email_taken(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "kai", email="kai@example.com")
        await create_user(runtime, "mei")
        r = await client.patch("/users/me", json={"email": "KAI@example.com"}, headers=bearer(await login(client, "mei")))
        assert r.status_code == 409 and r.json()["code"] == "email_taken"

    async def test_change_password(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "mei")
        pair = await login(client, "mei")
        r = await client.patch("/users/me", json={"password": "a brand new secret"}, headers=bearer(pair))
        assert r.status_code == 401 and r.json()["field"] == "old_password"
        r = await client.patch("/users/me", json={"password": "a brand new secret", "old_password": "wrong wrong"},
                               headers=bearer(pair))
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
        r = await client.patch("/users/me", json={"password": "short", "old_password": PASSWORD}, headers=bearer(pair))
        assert r.status_code == 400 and r.json()["code"] == "weak_password"
        r = await client.patch("/users/me", json={"password": "a brand new secret", "old_password": PASSWORD},
                               headers=bearer(pair))
        assert r.status_code == 200
        # every earlier session ends with a password change
        assert (await client.get("/users/me", headers=bearer(pair))).status_code == 401
        assert (await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401
        assert (await client.post("/auth/login", json={"username": "mei", "password": PASSWORD})).status_code == 401
        await login(client, "mei", "a brand new secret")


class TestAdmin:
    async def test_user_role_is_refused(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        other = await create_user(runtime, "kai")
        await create_user(runtime, "mei")
        auth = bearer(await login(client, "mei"))
        for method, url, body in (("GET", "/users", None), ("POST", "/users", {"username": "new1", "password": PASSWORD}),
                                  ("PATCH", f"/users/{other}", {"roles": ["admin"]}), ("DELETE", f"/users/{other}", None)):
            r = await client.request(method, url, json=body, headers=auth)
            assert r.status_code in (403, 404), (method, url)
            assert r.json()["code"] in ("permission_denied", "user_not_found")
        assert (await client.get("/users")).status_code == 401

    async def test_manage_users(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, "boss", admin=True)
        admin = bearer(await login(client, "boss"))
        r = await client.post("/users", json={"username": "helper", "password": PASSWORD, "roles": ["admin", "user"]},
                              headers=admin)
        assert r.status_code == 201 and r.json()["roles"] == ["admin", "user"]
        helper_id = r.json()["id"]
        for i in range(3):
            assert (await client.post("/users", json={"username": f"user{i}", "password": PASSWORD}, headers=admin)).status_code == 201
        r = await client.post("/users", json={"username": "bad", "password": PASSWORD, "roles": ["root"]}, headers=admin)
        assert r.status_code == 400 and r.json()["field"] == "roles"

        page = (await client.get("/users?skip=1&limit=2", headers=admin)).json()
        assert page["total"] == 5 and page["skip"] == 1 and page["limit"] == 2
        assert [u["username"] for u in page["items"]] == ["helper", "user0"]
        assert (await client.get("/users?limit=0", headers=admin)).status_code == 400
        # past BIGINT: PostgreSQL refuses the OFFSET outright, so it must be bad input, not a crash
        huge = await client.get(f"/users?skip={2**64}", headers=admin)
        assert huge.status_code == 400 and huge.json()["field"] == "skip"

        r = await client.patch(f"/users/{helper_id}", json={"roles": ["user"], "email": "h@example.com"}, headers=admin)
        assert r.status_code == 200 and r.json()["roles"] == ["user"] and r.json()["email"] == "h@example.com"
        assert (await client.get("/users", headers=bearer(await login(client, "helper")))).status_code == 403
        assert (await client.delete(f"/users/{helper_id}", headers=admin)).status_code == 204
        assert (await client.delete(f"/users/{helper_id}", headers=admin)).status_code == 404
        assert (await client.patch("/users/not-a-uuid", json={}, headers=admin)).status_code == 404

    async def test_last_admin_is_protected(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        boss = await create_user(runtime, "boss", admin=True)
        admin = bearer(await login(client, "boss"))
        for body in ({"roles": ["user"]}, {"is_active": False}):
            r = await client.patch(f"/users/{boss}", json=body, headers=admin)
            assert r.status_code == 409 and r.json()["code"] == "last_admin"
        assert (await client.delete(f"/users/{boss}", headers=admin)).status_code == 409
        await create_user(runtime, "second", admin=True)
        assert (await client.patch(f"/users/{boss}", json={"roles": ["user"]}, headers=admin)).status_code == 200


class TestPermissions:
    def test_roles_map_to_permissions(self) -> None:
        user = Principal.for_user("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", roles=["user"])
        admin = Principal.for_user("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6c", roles=["admin"])
        assert user.can("jobs:create") and user.can("jobs:rate") and not user.can("users:manage")
        assert not user.sees_all("jobs") and not user.sees_all("assets")
        assert admin.can("users:manage") and admin.sees_all("jobs") and admin.sees_all("assets") and admin.can("jobs:manage:any")
        assert Principal.for_user("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6d", roles=["ghost"]).permissions == frozenset()
        assert permissions_for(["user", "admin"]) == permissions_for(["admin"]) | permissions_for(["user"])
        client = Principal.for_client("device-12345")
        assert client.owner_id == "c:device-12345" and client.can("jobs:create") and not client.can("users:manage")
        assert ANONYMOUS.owner_id == "public" and not ANONYMOUS.sees_all("jobs")
        assert SYSTEM.sees_all("jobs") and SYSTEM.can("users:manage")

    async def test_services_check_permissions(self, runtime: Runtime) -> None:
        """The services themselves refuse (seed 002: usable without HTTP, as an admin)."""
        async with runtime.db.session() as s:
            admin = await service.create_user(s, SYSTEM, username="boss", password=PASSWORD, roles=["admin"])
            user = await service.create_user(s, SYSTEM, username="mei", password=PASSWORD)
        async with runtime.db.session() as s:
            users, total = await service.list_users(s, service.principal_for(admin), skip=0, limit=10)
            assert total == 2 and {u.username for u in users} == {"boss", "mei"}
            with pytest.raises(PermissionDenied):
                await service.list_users(s, service.principal_for(user))
            with pytest.raises(PermissionDenied):
                await service.create_user(s, service.principal_for(user), username="x" * 5, password=PASSWORD)
            with pytest.raises(PermissionDenied):
                await service.create_user(s, ANONYMOUS, username="y" * 5, password=PASSWORD)
            with pytest.raises(LastAdmin):
                await service.delete_user(s, SYSTEM, admin.id)
