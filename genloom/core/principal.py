"""Who is asking: a signed-in user, an anonymous client, or nobody — and the one place owner scoping lives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select

PUBLIC_OWNER = "public"


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


#: the caller on surfaces in "open" mode: everything they create belongs to the shared public owner
ANONYMOUS = Principal(owner_id=PUBLIC_OWNER, kind="anonymous")
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
