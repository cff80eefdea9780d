"""Access tokens (JWT, HS256) and opaque refresh tokens.

Access token claims: ``sub`` (user id), ``ver`` (the user's token_version), ``typ`` = "access", ``iss``,
``iat``, ``exp``, ``jti``. The verifier accepts exactly one algorithm, so ``alg: none`` and algorithm-confusion
tokens fail. The HMAC key is derived from the configured secret, so it is never the same bytes as the key
that signs media URLs.

A refresh token is ``<row id>.<secret>``; only sha256(secret) is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from genloom.core.ids import is_uuid, new_id
from genloom.core.settings import Settings
from genloom.identity.errors import InvalidToken

ISSUER = "genloom"
ALGORITHM = "HS256"
ACCESS_TYPE = "access"
REFRESH_SECRET_BYTES = 32


def signing_key(settings: Settings) -> bytes:
    secret = settings.jwt_secret or settings.secret_key
    return hmac.new(secret.encode(), b"genloom.jwt.v1", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    token_version: int
    expires_at: datetime


def encode_access(settings: Settings, *, user_id: str, token_version: int, now: datetime) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    lifetime = settings.access_token_minutes * 60
    claims: dict[str, Any] = {
        "sub": user_id,
        "ver": token_version,
        "typ": ACCESS_TYPE,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM), lifetime


def decode_access(settings: Settings, token: str) -> AccessClaims:
    """Verify an access token; InvalidToken (code ``token_expired`` when only its time is up) otherwise."""
    try:
        claims = jwt.decode(
            token, signing_key(settings), algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired; refresh it", code="token_expired") from None
    except jwt.InvalidTokenError:
        raise InvalidToken() from None
    sub, ver = claims.get("sub"), claims.get("ver", 0)
    # bool is an int subclass: ``"ver": true`` must not pass for version 1
    if (claims.get("typ") != ACCESS_TYPE or not isinstance(sub, str) or not is_uuid(sub) or not isinstance(ver, int)
            or isinstance(ver, bool)):
        raise InvalidToken()
    return AccessClaims(user_id=sub, token_version=ver, expires_at=datetime.fromtimestamp(claims["exp"]).astimezone())


@dataclass(frozen=True, slots=True)
class NewRefreshToken:
    id: str
    token: str
    token_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token() -> NewRefreshToken:
    row_id = new_id()
    secret = secrets.token_urlsafe(REFRESH_SECRET_BYTES)
    return NewRefreshToken(id=row_id, token=f"{row_id}.{secret}", token_hash=hash_secret(secret))


def parse_refresh_token(token: str) -> tuple[str, str]:
    """(row id, secret) of a refresh token; InvalidToken when it is not shaped like one."""
    row_id, _, secret = token.strip().partition(".")
    if not secret or not is_uuid(row_id) or len(secret) > 200:
        raise InvalidToken("the refresh token is invalid", code="invalid_refresh_token")
    return row_id, secret


def secret_matches(secret: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), token_hash)
