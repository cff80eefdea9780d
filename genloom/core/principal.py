"""Who is asking: a signed-in user, an anonymous client, or nobody — and the one place owner scoping lives.

Owner ids are strings stored in every owned row's ``owner_id`` column:

    "public"          rows made by callers without identity (surfaces in "open" auth mode)
    "u:<user uuid>"   a registered user
    "c:<client id>"   an anonymous client (X-Client-Id)

Services decide by permission, never by role name: a role is only a named set of permissions
(:data:`ROLE_PERMISSIONS`). ``<resource>:read:any`` lets a principal read every owner's rows of that resource,
``*:read:any`` every resource's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select

PUBLIC_OWNER = "public"
USER_PREFIX = "u:"
CLIENT_PREFIX = "c:"


class Role(StrEnum):
    admin = "admin"  #: manages users and sees everyone's data
    user = "user"  #: a registered user: their own data only


#: What any caller may do with their *own* rows (also granted to anonymous clients and open-mode callers).
BASE_PERMISSIONS: frozenset[str] = frozenset({
    "jobs:create", "jobs:read", "jobs:cancel", "jobs:retry", "jobs:rate",
    "assets:create", "assets:read", "assets:delete",
    "content:create", "content:read", "content:update", "content:delete",
})

#: The permission table: role -> permissions. A user's permissions are the union over their roles.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.user: BASE_PERMISSIONS | {"users:read:self", "users:update:self"},
    Role.admin: BASE_PERMISSIONS | {
        "users:read:self", "users:update:self",
        "*:read:any",  # every resource of every owner
        "jobs:manage:any", "assets:manage:any", "content:manage:any",
        "users:manage",
    },
}


def permissions_for(roles: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The union of the roles' permissions (unknown role names grant nothing)."""
    out: set[str] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(out)


def user_owner(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def client_owner(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}"


@dataclass(frozen=True, slots=True)
class Principal:
    owner_id: str
    kind: Literal["anonymous", "client", "user", "system"] = "anonymous"
    user_id: str | None = None
    client_id: str | None = None
    username: str | None = None
    roles: tuple[str, ...] = ()
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        if permission in self.permissions or "*" in self.permissions:
            return True
        # "jobs:read:any" is also granted by "*:read:any"
        parts = permission.split(":", 1)
        return len(parts) == 2 and f"*:{parts[1]}" in self.permissions

    def sees_all(self, resource: str) -> bool:
        return self.can(f"{resource}:read:any")

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @classmethod
    def for_user(cls, user_id: str, *, username: str | None = None, roles: tuple[str, ...] | list[str] = ()) -> Principal:
        roles = tuple(roles)
        return cls(owner_id=user_owner(user_id), kind="user", user_id=user_id, username=username, roles=roles,
                   permissions=permissions_for(roles))

    @classmethod
    def for_client(cls, client_id: str) -> Principal:
        return cls(owner_id=client_owner(client_id), kind="client", client_id=client_id, permissions=BASE_PERMISSIONS)


#: the caller on surfaces in "open" mode: everything they create belongs to the shared public owner
ANONYMOUS = Principal(owner_id=PUBLIC_OWNER, kind="anonymous", permissions=BASE_PERMISSIONS)
#: the process itself (CLI, janitor, workers): sees everything
SYSTEM = Principal(owner_id=PUBLIC_OWNER, kind="system", permissions=frozenset({"*"}))


def owner_clause(column: Any, principal: Principal, resource: str) -> ColumnElement[bool] | None:
    """The WHERE clause that limits ``column`` (an owner_id column) to what ``principal`` may read."""
    if principal.sees_all(resource):
        return None
    clause: ColumnElement[bool] = column == principal.owner_id
    return clause


def scoped(stmt: Select[Any], column: Any, principal: Principal, resource: str) -> Select[Any]:
    """Apply owner scoping to a SELECT. Every read of owned rows goes through here."""
    clause = owner_clause(column, principal, resource)
    return stmt if clause is None else stmt.where(clause)


def may_read(principal: Principal, owner_id: str, resource: str) -> bool:
    """Row-level form of :func:`owner_clause`, for a row already loaded (e.g. from a cache)."""
    return owner_id == principal.owner_id or principal.sees_all(resource)


def may_manage(principal: Principal, owner_id: str, resource: str) -> bool:
    """Change or delete a row: its owner, or a principal with ``<resource>:manage:any``."""
    return owner_id == principal.owner_id or principal.can(f"{resource}:manage:any")
