"""Users: create, read, list, update, delete — with permission checks — and the Principal a user acts as.

Functions take the session first and never commit. Permission checks use :meth:`Principal.can`; a caller who
may not see a user gets UserNotFound, like an unknown id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.ids import is_uuid, new_id
from genloom.core.principal import Principal, Role, user_owner
from genloom.identity.errors import (
    EmailTaken,
    InvalidCredentials,
    LastAdmin,
    PermissionDenied,
    RegistrationClosed,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from genloom.identity.models import RefreshToken, User
from genloom.identity.passwords import hash_password, verify_password

DEFAULT_PASSWORD_MIN_LENGTH = 8


def principal_for(user: User) -> Principal:
    """The Principal a user acts as (their roles' permissions, their owner id)."""
    return Principal.for_user(user.id, username=user.username, roles=tuple(user.roles or ()))


def user_dict(user: User) -> dict[str, Any]:
    """The public shape of a user; the password hash never leaves this module."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "roles": list(user.roles or []),
        "is_active": user.is_active,
        "preferences": dict(user.preferences or {}),
        "owner_id": user_owner(user.id),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "last_login_at": user.last_login_at,
    }


def require(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise PermissionDenied(f"you need the {permission!r} permission")


def check_password(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise WeakPassword(f"the password must have at least {min_length} characters", field="password")


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    """The user whose username (or, when it contains '@', email) matches, without regard to case."""
    login = login.strip().lower()
    column = User.email if "@" in login else User.username
    return (await session.execute(select(User).where(func.lower(column) == login))).scalar_one_or_none()


async def _ensure_unique(session: AsyncSession, *, username: str | None, email: str | None, exclude: str | None) -> None:
    if username is not None:
        stmt = select(User.id).where(func.lower(User.username) == username.lower())
        if exclude:
            stmt = stmt.where(User.id != exclude)
        if (await session.execute(stmt)).first() is not None:
            raise UsernameTaken(field="username")
    if email is not None:
        stmt = select(User.id).where(func.lower(User.email) == email.lower())
        if exclude:
            stmt = stmt.where(User.id != exclude)
        if (await session.execute(stmt)).first() is not None:
            raise EmailTaken(field="email")


async def _flush_unique(session: AsyncSession, *, email_changed: bool) -> None:
    """Flush; a concurrent insert of the same name or email surfaces as a 409, not a 500."""
    try:
        await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "email" in text and email_changed:
            raise EmailTaken(field="email") from None
        raise UsernameTaken(field="username") from None


async def _insert_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    email: str | None,
    roles: Iterable[str],
    is_active: bool,
    password_min_length: int,
) -> User:
    check_password(password, password_min_length)
    await _ensure_unique(session, username=username, email=email, exclude=None)
    now = utc_now()
    user = User(
        id=new_id(), username=username, email=email, password_hash=await hash_password(password),
        roles=list(dict.fromkeys(roles)), is_active=is_active, preferences={}, token_version=0, failed_logins=0,
        created_at=now, updated_at=now,
    )
    session.add(user)
    await _flush_unique(session, email_changed=email is not None)
    return user


async def create_user(
    session: AsyncSession,
    actor: Principal,
    *,
    username: str,
    password: str,
    email: str | None = None,
    roles: Iterable[str] = (Role.user,),
    is_active: bool = True,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User:
    """Create an account with any roles (needs ``users:manage``; the SYSTEM principal has it)."""
    require(actor, "users:manage")
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise InvalidInput(f"unknown roles {sorted(unknown)}; roles are {[r.value for r in Role]}", field="roles")
    return await _insert_user(session, username=username, password=password, email=email, roles=roles,
                              is_active=is_active, password_min_length=password_min_length)


async def register_user(
    session: AsyncSession,
    actor: Principal,
    *,
    registration: str,
    username: str,
    password: str,
    email: str | None = None,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User:
    """Self-service sign-up (role ``user``), as the ``registration`` setting allows: open, admin or closed."""
    if registration == "closed":
        raise RegistrationClosed()
    if registration == "admin" and not actor.can("users:manage"):
        raise RegistrationClosed("only an administrator may register accounts")
    return await _insert_user(session, username=username, password=password, email=email, roles=[Role.user],
                              is_active=True, password_min_length=password_min_length)


async def get_user(session: AsyncSession, actor: Principal, user_id: str) -> User:
    """A user the actor may see (themselves, or anyone with ``users:manage``); UserNotFound otherwise."""
    if not is_uuid(user_id) or (actor.user_id != user_id and not actor.can("users:manage")):
        raise UserNotFound(field="user_id")
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound(field="user_id")
    return user


async def list_users(session: AsyncSession, actor: Principal, *, skip: int = 0, limit: int = 50) -> tuple[list[User], int]:
    """All users, oldest first (needs ``users:manage``), and the total count."""
    require(actor, "users:manage")
    rows = (await session.execute(select(User).order_by(User.created_at, User.id).offset(skip).limit(limit))).scalars()
    total = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    return list(rows), int(total)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: nested objects merge, ``null`` deletes a key."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


async def revoke_all_sessions(session: AsyncSession, user: User) -> None:
    """Revoke every refresh token of the user and invalidate their access tokens."""
    now = utc_now()
    await session.execute(
        update(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    user.token_version = (user.token_version or 0) + 1


async def update_me(
    session: AsyncSession,
    actor: Principal,
    changes: dict[str, Any],
    *,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User:
    """Change the caller's email, preferences (merge patch) or password (the old one is required).

    ``changes`` holds only the fields the caller sent; ``email: None`` removes the address. A new password
    signs the user out everywhere (refresh tokens revoked, access tokens invalidated)."""
    if actor.user_id is None:
        raise UserNotFound(field="user_id")
    require(actor, "users:update:self")
    user = await get_user(session, actor, actor.user_id)
    if "email" in changes:
        email = changes["email"]
        if email is not None:
            await _ensure_unique(session, username=None, email=email, exclude=user.id)
        user.email = email
    if changes.get("preferences") is not None:
        user.preferences = merge_patch(user.preferences or {}, changes["preferences"])
    if changes.get("password") is not None:
        old = changes.get("old_password")
        if not old:
            raise InvalidCredentials("send old_password to set a new password", field="old_password")
        if not await verify_password(user.password_hash, old):
            raise InvalidCredentials("the current password is wrong", field="old_password")
        check_password(changes["password"], password_min_length)
        user.password_hash = await hash_password(changes["password"])
        await revoke_all_sessions(session, user)
    user.updated_at = utc_now()
    await _flush_unique(session, email_changed="email" in changes)
    return user


async def _active_admins(session: AsyncSession, *, excluding: str) -> int:
    # roles is a JSON array; its text form contains "admin" with quotes on both databases
    stmt = select(func.count()).select_from(User).where(
        User.is_active.is_(True), User.id != excluding, cast(User.roles, String).like('%"admin"%')
    )
    return int((await session.execute(stmt)).scalar_one())


async def admin_update(
    session: AsyncSession,
    actor: Principal,
    user_id: str,
    changes: dict[str, Any],
    *,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User:
    """Change a user's roles, active flag, email or password, or lift a lockout (needs ``users:manage``)."""
    require(actor, "users:manage")
    user = await get_user(session, actor, user_id)
    was_admin = user.is_active and Role.admin in (user.roles or [])
    roles = changes.get("roles")
    active = changes.get("is_active")
    loses_admin = (roles is not None and Role.admin not in roles) or active is False
    if was_admin and loses_admin and await _active_admins(session, excluding=user.id) == 0:
        raise LastAdmin(field="roles" if roles is not None else "is_active")
    if roles is not None:
        user.roles = list(roles)
    if "email" in changes:
        if changes["email"] is not None:
            await _ensure_unique(session, username=None, email=changes["email"], exclude=user.id)
        user.email = changes["email"]
    if changes.get("password") is not None:
        check_password(changes["password"], password_min_length)
        user.password_hash = await hash_password(changes["password"])
        await revoke_all_sessions(session, user)
    if active is not None and active != user.is_active:
        user.is_active = active
        if not active:
            await revoke_all_sessions(session, user)
    if changes.get("unlock") or changes.get("password") is not None:
        user.failed_logins = 0
        user.locked_until = None
    user.updated_at = utc_now()
    await _flush_unique(session, email_changed="email" in changes)
    return user


async def delete_user(session: AsyncSession, actor: Principal, user_id: str) -> None:
    """Delete an account and its refresh tokens (needs ``users:manage``). Rows the user owns stay, under
    their owner id, until an administrator removes them."""
    require(actor, "users:manage")
    user = await get_user(session, actor, user_id)
    if user.is_active and Role.admin in (user.roles or []) and await _active_admins(session, excluding=user.id) == 0:
        raise LastAdmin(field="user_id")
    await session.delete(user)
    await session.flush()


async def admin_exists(session: AsyncSession) -> bool:
    return await _active_admins(session, excluding="") > 0


async def ensure_admin(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    email: str | None = None,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User | None:
    """Create the first administrator when no active one exists; None when there already is one."""
    if await admin_exists(session):
        return None
    return await _insert_user(session, username=username, password=password, email=email or None,
                              roles=[Role.admin, Role.user], is_active=True, password_min_length=password_min_length)
