"""Sign-in, token refresh with rotation and reuse detection, sign-out.

These flows open their own short transactions on the :class:`Database` instead of taking the request's
session, for two reasons: a failed sign-in must *record* the failure (and a reused refresh token must revoke its
family) even though the request then answers with an error — which rolls the request's session back — and the
slow argon2 check must not run while a SQLite write lock is held.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from genloom.core.db import Database, utc_now
from genloom.core.errors import Forbidden
from genloom.core.principal import Principal
from genloom.core.settings import Settings
from genloom.identity import tokens
from genloom.identity.errors import AccountLocked, InvalidCredentials, InvalidToken, RefreshTokenReused
from genloom.identity.models import RefreshToken, User
from genloom.identity.passwords import hash_password, needs_rehash, verify_password
from genloom.identity.service import find_by_login, revoke_all_sessions

_users = User.__table__
#: built once: a request's token check then costs the round trip, not the statement's construction
_TOKEN_USER = (select(_users.c.username, _users.c.roles, _users.c.is_active, _users.c.token_version)
               .where(_users.c.id == bindparam("user_id")))

log = logging.getLogger("genloom.identity")


@dataclass(frozen=True, slots=True)
class _LoginView:
    id: str
    password_hash: str
    is_active: bool
    locked_until: datetime | None


def _user_agent(value: str | None) -> str | None:
    return value[:255] if value else None


async def _issue(
    session: AsyncSession, settings: Settings, user: User, *, family_id: str | None, user_agent: str | None, now: datetime
) -> dict[str, Any]:
    """A new refresh-token row (in ``family_id``, or a new family) and an access token for ``user``."""
    fresh = tokens.new_refresh_token()
    session.add(RefreshToken(
        id=fresh.id, user_id=user.id, family_id=family_id or fresh.id, token_hash=fresh.token_hash,
        user_agent=_user_agent(user_agent), issued_at=now, expires_at=now + timedelta(days=settings.refresh_token_days),
    ))
    access, lifetime = tokens.encode_access(settings, user_id=user.id, token_version=user.token_version or 0, now=now)
    return {"access_token": access, "refresh_token": fresh.token, "token_type": "bearer", "expires_in": lifetime}


async def login_flow(
    db: Database, settings: Settings, *, username: str, password: str, user_agent: str | None = None
) -> dict[str, Any]:
    """Check the credentials and return a token pair.

    After ``login_max_failures`` wrong passwords in a row the account is locked for ``login_lockout_seconds``:
    even the right password then answers AccountLocked (429 with Retry-After). Unknown names cost the same
    argon2 work as wrong passwords and get the same answer."""
    async with db.read_session() as s:
        user = await find_by_login(s, username)
        view = _LoginView(user.id, user.password_hash, user.is_active, user.locked_until) if user else None
    now = utc_now()
    if view is not None and view.locked_until is not None and view.locked_until > now:
        raise AccountLocked(retry_after=(view.locked_until - now).total_seconds())
    ok = await verify_password(view.password_hash if view else None, password)
    if view is None:
        raise InvalidCredentials()
    if not ok:
        await _record_failure(db, settings, view.id)
        raise InvalidCredentials()
    if not view.is_active:
        raise Forbidden("this account is disabled", code="account_disabled")
    new_hash = await hash_password(password) if needs_rehash(view.password_hash) else None
    async with db.session() as s:
        fresh_user = await s.get(User, view.id)
        if fresh_user is None:  # deleted in between
            raise InvalidCredentials()
        fresh_user.failed_logins = 0
        fresh_user.locked_until = None
        fresh_user.last_login_at = now
        if new_hash:
            fresh_user.password_hash = new_hash
        pair = await _issue(s, settings, fresh_user, family_id=None, user_agent=user_agent, now=now)
    log.info("auth.login user_id=%s", view.id)
    return pair


async def _record_failure(db: Database, settings: Settings, user_id: str) -> None:
    """Count a failed sign-in in its own committed transaction; lock the account at the threshold."""
    now = utc_now()
    async with db.session() as s:
        count = (
            await s.execute(
                update(User).where(User.id == user_id).values(failed_logins=User.failed_logins + 1)
                .returning(User.failed_logins)
            )
        ).scalar_one_or_none()
        if count is not None and count >= settings.login_max_failures:
            until = now + timedelta(seconds=settings.login_lockout_seconds)
            await s.execute(update(User).where(User.id == user_id).values(failed_logins=0, locked_until=until))
            log.warning("auth.locked user_id=%s until=%s", user_id, until.isoformat())
    log.info("auth.login_failed user_id=%s", user_id)


async def refresh_flow(db: Database, settings: Settings, *, refresh_token: str, user_agent: str | None = None) -> dict[str, Any]:
    """Trade a refresh token for a new pair. The old token becomes used; using it again revokes its family."""
    row_id, secret = tokens.parse_refresh_token(refresh_token)
    now = utc_now()
    reused_family: str | None = None
    async with db.session() as s:
        row = await s.get(RefreshToken, row_id)
        if row is None or not tokens.secret_matches(secret, row.token_hash):
            raise InvalidToken("the refresh token is invalid", code="invalid_refresh_token")
        if row.revoked_at is not None:
            raise InvalidToken("the refresh token was revoked; sign in again", code="refresh_token_revoked")
        if row.expires_at <= now:
            raise InvalidToken("the refresh token has expired; sign in again", code="token_expired")
        # Guarded in the UPDATE itself, so two concurrent refreshes with one token cannot both win.
        claimed = await s.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            reused_family = row.family_id
            await s.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            pair: dict[str, Any] = {}
        else:
            user = await s.get(User, row.user_id)
            if user is None or not user.is_active:
                raise InvalidToken("the account is disabled or deleted", code="invalid_refresh_token")
            pair = await _issue(s, settings, user, family_id=row.family_id, user_agent=user_agent, now=now)
    if reused_family is not None:
        # raised after the block, so the family's revocation is committed first
        log.warning("auth.refresh_reused family_id=%s", reused_family)
        raise RefreshTokenReused()
    return pair


async def logout_flow(db: Database, *, refresh_token: str | None = None, user_id: str | None = None) -> None:
    """Revoke the family of ``refresh_token``; with ``user_id``, every session of that user (and their
    access tokens). Unknown or already revoked tokens are ignored: signing out twice is not an error."""
    now = utc_now()
    async with db.session() as s:
        if refresh_token:
            try:
                row_id, secret = tokens.parse_refresh_token(refresh_token)
            except InvalidToken:
                row_id, secret = "", ""
            row = await s.get(RefreshToken, row_id) if row_id else None
            if row is not None and tokens.secret_matches(secret, row.token_hash):
                await s.execute(
                    update(RefreshToken)
                    .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                    .execution_options(synchronize_session=False)
                )
        if user_id is not None:
            user = await s.get(User, user_id)
            if user is not None:
                await revoke_all_sessions(s, user)


async def prune_refresh_tokens(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete refresh tokens that expired before ``older_than`` (housekeeping)."""
    result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


PRUNE_INTERVAL_SECONDS = 3600.0
#: expired tokens are kept this long, so a late reuse still reads "expired" rather than "invalid" in the logs
PRUNE_AFTER = timedelta(days=1)


async def prune_forever(db: Database) -> None:
    """Prune expired refresh tokens every hour (every API process may run this; the DELETE is idempotent)."""
    while True:
        await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
        try:
            async with db.session() as s:
                removed = await prune_refresh_tokens(s, older_than=utc_now() - PRUNE_AFTER)
            if removed:
                log.info("auth.pruned refresh_tokens=%d", removed)
        except Exception:  # noqa: BLE001 - housekeeping must not die with one failed round
            log.warning("auth.prune_failed", exc_info=True)


async def principal_for_access(db: Database, settings: Settings, token: str, *,
                               conn: AsyncConnection | None = None) -> Principal:
    """The Principal of the active user an access token speaks for (signature, expiry, type and the user's
    token_version checked). One primary-key read on the read engine, no ORM session: this runs per request.
    ``conn``: a reader connection the caller goes on to use (a hot read then takes one connection, not two)."""
    claims = tokens.decode_access(settings, token)
    if conn is None:
        async with db.reader.connect() as own:
            row = (await own.execute(_TOKEN_USER, {"user_id": claims.user_id})).first()
    else:
        row = (await conn.execute(_TOKEN_USER, {"user_id": claims.user_id})).first()
    if row is None or not row.is_active or (row.token_version or 0) != claims.token_version:
        raise InvalidToken()
    return Principal.for_user(claims.user_id, username=row.username, roles=tuple(row.roles or ()))
