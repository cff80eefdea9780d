"""The isolation matrix: every route of the OpenAPI document (and every WebSocket route) × five callers.

A surface module (``native.py``, ``cinemind.py``, …, one per app surface) says two things:

- ``async def create(ctx, owner) -> dict[str, str]``: make resources owned by ``owner`` and return the values of
  the path parameters its routes take (``{"job_id": …, "node_id": …}``), plus ``"marker"``: a string planted in
  the owner's data (a prompt, a node's text) that must never reach another caller;
- ``ROUTES``: ``"METHOD /path/{param}"`` → a case (:class:`Owned`, :class:`Listing`, :class:`Stream`,
  :class:`Custom` or :class:`Unowned`). README.md in this folder says how to add one.

The runner (test_matrix.py) sends each route as the owner, another user, another client id, an anonymous caller
and an administrator, and checks that foreign ids answer 404 (or 401 where the route refuses the caller before
looking, never 200/403 with data), that lists and streams never carry another's rows, and that the owner (and an
administrator, who may read everything) does see them — so each check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from genloom.runtime import Runtime

UNKNOWN_ID = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
CALLERS = ("owner", "other_user", "other_client", "anonymous", "admin")
FOREIGN = ("other_user", "other_client", "anonymous")


@dataclass
class Context:
    """What a surface module and the runner share: the in-process client, the runtime, a live server's base URL
    (for streams and WebSockets) and the headers of each caller."""

    client: httpx.AsyncClient
    runtime: Runtime
    url: str
    headers: dict[str, dict[str, str]]
    owner: str = "owner"

    async def drain(self) -> None:
        from tests.conftest import drain

        await drain(self.runtime)


@dataclass(frozen=True)
class Owned:
    """A route that reads or changes one resource named by its path parameters.

    Foreign callers get 404 (401 when ``refused`` lists them: the route turns them away before any lookup;
    ``refusal`` is that status where it is not 401 — HuaBan answers a missing client id with 400).
    The owner gets one of ``ok``. ``destructive`` routes run for the owner on a fresh resource, after every
    foreign attempt on the shared one. ``admin_sees``: an administrator (``*:read:any``) gets ``ok`` too."""

    ok: tuple[int, ...] = (200,)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    destructive: bool = False
    admin_sees: bool = True
    refused: tuple[str, ...] = ()
    refusal: tuple[int, ...] = (401,)


@dataclass(frozen=True)
class Listing:
    """A list (or tree) of owned rows: a foreign caller's answer never holds the owner's marker or ids; the
    owner's (and an administrator's, with ``admin_sees``) does."""

    query: dict[str, Any] = field(default_factory=dict)
    admin_sees: bool = True
    refused: tuple[str, ...] = ()
    #: which of the resource values must appear in the owner's answer (default: the marker)
    shows: tuple[str, ...] = ("marker",)


@dataclass(frozen=True)
class Stream:
    """An SSE route, read with ``close_after`` (a bounded stream) from event 0 over a real socket; like a
    :class:`Listing` (path parameters filled in: foreign callers get 404 instead)."""

    query: dict[str, Any] = field(default_factory=dict)
    shows: tuple[str, ...] = ("job_id",)


@dataclass(frozen=True)
class Custom:
    """A check the shapes above cannot say (WebSockets, admin-only routes): ``check(ctx, resources)``."""

    check: Callable[[Context, dict[str, str]], Awaitable[None]]


@dataclass(frozen=True)
class Unowned:
    """A route that holds no caller's data (health, metrics, sign-in): say why."""

    reason: str


Case = Owned | Listing | Stream | Custom | Unowned


class SurfaceModule(Protocol):
    ROUTES: dict[str, Case]
    OWNER: str

    async def create(self, ctx: Context, owner: str) -> dict[str, str]: ...


def fill(path: str, resources: dict[str, str]) -> str:
    out = path
    for name, value in resources.items():
        out = out.replace("{" + name + "}", value)
    if "{" in out:
        raise AssertionError(f"{path}: create() returned no value for {out[out.index('{'):out.index('}') + 1]}")
    return out


def leaks(body: str, resources: dict[str, str]) -> list[str]:
    """The owner's values (marker and ids) found in ``body``."""
    return [f"{k}={v}" for k, v in resources.items() if v and v in body]


async def send(ctx: Context, caller: str, method: str, path: str, case: Owned | Listing,
               resources: dict[str, str]) -> httpx.Response:
    owned = case if isinstance(case, Owned) else None
    headers = {**ctx.headers[caller], **(owned.headers if owned else {})}
    return await ctx.client.request(method, fill(path, resources), headers=headers, params=case.query or None,
                                    json=owned.json if owned else None)


async def read_stream(ctx: Context, caller: str, path: str, case: Stream, resources: dict[str, str]) -> tuple[int, str]:
    params = {"after": 0, "close_after": 0.5, **case.query}
    async with httpx.AsyncClient(base_url=ctx.url, timeout=20) as http:
        r = await http.get(fill(path, resources), params=params, headers=ctx.headers[caller])
        return r.status_code, r.text


def dump(r: httpx.Response) -> str:
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text
