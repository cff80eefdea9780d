"""Runs the isolation matrix (matrix.py): every route of every surface module against five callers, and fails
on any route of the app that no surface module describes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import WebSocketRoute

from genloom.app import SURFACES, create_app
from genloom.core.settings import Settings
from genloom.runtime import Runtime
from tests.identity.conftest import bearer, create_user, login
from tests.security.isolation import backend2, cinemind, genflow, huaban, identity, native, studio, system
from tests.security.isolation.matrix import (
    FOREIGN,
    Context,
    Custom,
    Listing,
    Owned,
    Stream,
    Unowned,
    dump,
    leaks,
    read_stream,
    send,
)

MODULES: dict[str, ModuleType] = {m.__name__.rsplit(".", 1)[-1]: m for m in (
    native, studio, system, identity, backend2, cinemind, huaban, genflow)}


def _app_routes(settings: Settings) -> dict[str, str]:
    """Every ``METHOD /path`` the app serves (OpenAPI operations and WebSocket routes) → its surface's name."""
    app = create_app(settings)
    routes: dict[str, str] = {}
    for surface in SURFACES:
        for router in surface.routers:
            for route in iter_route_contexts(router.routes):
                path = getattr(route, "path", None)
                if path is None:
                    continue
                path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)  # /media/{key:mediakey} is /media/{key}
                if isinstance(route.original_route, WebSocketRoute) or "websocket" in type(route.original_route).__name__.lower():
                    routes[f"WS {path}"] = surface.name
                elif getattr(route, "include_in_schema", True):
                    for method in sorted(route.methods or ()):
                        if method != "HEAD":
                            routes[f"{method} {path}"] = surface.name
    documented = {f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops}
    missing = documented - routes.keys()
    assert not missing, f"documented routes not found on any surface's routers: {sorted(missing)}"
    return routes


def test_every_route_is_in_the_matrix(settings: Settings) -> None:
    routes = _app_routes(settings)
    described = {key: name for name, module in MODULES.items() for key in module.ROUTES}
    awaiting = {key: name for name, module in MODULES.items() for key in getattr(module, "AWAITING", ())}
    uncovered = sorted(set(routes) - described.keys() - awaiting.keys())
    hint = "\n".join(
        f"  tests/security/isolation/{routes[key]}.py ROUTES: {key!r}: Owned(...) | Listing(...) | Stream(...) | "
        f"Custom(check) | Unowned(reason)" for key in uncovered)
    assert not uncovered, (
        f"{len(uncovered)} route(s) are not in the isolation matrix. Add each to its surface's module "
        f"(tests/security/isolation/README.md says how):\n{hint}")
    stale = sorted(set(described) - set(routes))  # (an AWAITING entry may name a route not merged yet)
    assert not stale, f"the matrix describes routes the app no longer serves (remove them): {stale}"
    twice = sorted(set(described) & set(awaiting))
    assert not twice, f"routes both described and listed in AWAITING (drop them from AWAITING): {twice}"


@pytest.fixture
async def ctx(client: httpx.AsyncClient, runtime: Runtime, live_server: Any) -> AsyncIterator[Context]:
    await create_user(runtime, "alice")
    await create_user(runtime, "bob")
    await create_user(runtime, "root", admin=True)
    headers = {
        "owner": bearer(await login(client, "alice")),
        "other_user": bearer(await login(client, "bob")),
        "other_client": {"X-Client-Id": "isolation-other-0002"},
        "anonymous": {},
        "admin": bearer(await login(client, "root")),
        # the owner and the other caller of surfaces whose callers are anonymous clients (HuaBan)
        "owner_client": {"X-Client-Id": "isolation-owner-0001"},
    }
    async with live_server(workers=0) as url:
        yield Context(client=client, runtime=runtime, url=url, headers=headers)


async def _check_route(ctx: Context, module: ModuleType, key: str, case: Any, mine: dict[str, str]) -> None:
    method, path = key.split(" ", 1)
    owner = module.OWNER
    foreign = list(FOREIGN) + (["owner"] if owner == "owner_client" else [])
    if isinstance(case, Unowned):
        return
    if isinstance(case, Custom):
        await case.check(ctx, mine)
        return
    if isinstance(case, Stream):
        for caller in foreign:
            status, body = await read_stream(ctx, caller, path, case, mine)
            # a 404 may echo the id that was asked for (``instance``); nothing else of the owner's may appear
            secret = ("marker",) if status == 404 else case.shows + ("marker",)
            assert not leaks(body, {k: mine[k] for k in secret if k in mine}), (key, caller, body)
            assert status in (200, 404), (key, caller, status, body)
        status, body = await read_stream(ctx, owner, path, case, mine)
        assert status == 200 and all(mine[k] in body for k in case.shows), (key, "owner", status, body[:500])
        return
    for caller in foreign:
        r = await send(ctx, caller, method, path, case, mine)
        body = dump(r)
        if isinstance(case, Owned):
            allowed = (404, *case.refusal) if caller in case.refused else (404,)
            assert r.status_code in allowed, \
                f"{key} as {caller}: {r.status_code} {body[:400]} (foreign ids must answer 404)"
        else:
            assert r.status_code < 500, (key, caller, r.status_code, body[:400])
            if r.status_code != 200:
                assert caller in case.refused, f"{key} as {caller}: {r.status_code} {body[:300]}"
        found = leaks(body, {"marker": mine["marker"]} if isinstance(case, Owned) else mine)
        assert not found, f"{key} as {caller} shows the owner's {found}: {body[:400]}"
    if isinstance(case, Owned) and case.destructive:
        mine = await module.create(ctx, owner)
    r = await send(ctx, owner, method, path, case, mine)
    ok = case.ok if isinstance(case, Owned) else (200,)
    assert r.status_code in ok, f"{key} as the owner: {r.status_code} {dump(r)[:400]}"
    if isinstance(case, Listing):
        assert all(mine[k] in dump(r) for k in case.shows), f"{key}: the owner's own rows are missing: {dump(r)[:400]}"
    if case.admin_sees and not (isinstance(case, Owned) and case.destructive):
        r = await send(ctx, "admin", method, path, case, mine)
        assert r.status_code in ok, f"{key} as an administrator: {r.status_code} {dump(r)[:400]}"


@pytest.mark.parametrize("surface", [name for name, m in MODULES.items() if any(
    not isinstance(c, Unowned) for c in m.ROUTES.values())])
async def test_owners_only_see_their_own(ctx: Context, surface: str) -> None:
    module = MODULES[surface]
    ctx.owner = module.OWNER
    mine = await module.create(ctx, module.OWNER)
    ordered = sorted(module.ROUTES.items(), key=lambda kv: isinstance(kv[1], Owned) and kv[1].destructive)
    for key, case in ordered:
        await _check_route(ctx, module, key, case, mine)
    for key, case in ordered:  # the foreign attempts changed nothing the owner sees
        if isinstance(case, Listing) and not case.refused:
            method, path = key.split(" ", 1)
            r = await send(ctx, module.OWNER, method, path, case, mine)
            assert all(mine[k] in dump(r) for k in case.shows), (key, dump(r)[:300])

