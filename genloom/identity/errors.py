"""Errors of users, sign-in and tokens.

    GenloomError
    ├── InvalidInput
    │   ├── WeakPassword              400  shorter than GENLOOM_PASSWORD_MIN_LENGTH
    │   └── InvalidClientId           400  X-Client-Id is not 8–64 chars of A-Za-z0-9_-
    ├── Unauthorized
    │   ├── NotAuthenticated          401  this surface needs a signed-in user
    │   ├── ClientIdRequired          401  this surface needs X-Client-Id (or a user)
    │   ├── InvalidCredentials        401  wrong username or password (never says which)
    │   ├── InvalidToken              401  bad signature, expired, wrong type, unknown user
    │   └── RefreshTokenReused        401  a rotated refresh token came back: its family is revoked
    ├── Forbidden
    │   ├── PermissionDenied          403  the caller lacks a permission
    │   └── RegistrationClosed        403
    ├── NotFound
    │   └── UserNotFound              404
    ├── Conflict
    │   ├── UsernameTaken             409
    │   ├── EmailTaken                409
    │   └── LastAdmin                 409  the last active admin cannot be removed or demoted
    └── RateLimited
        └── AccountLocked             429  too many failed logins; Retry-After says when to try again
"""

from __future__ import annotations

from genloom.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthorized


class WeakPassword(InvalidInput):
    """The password is too short."""

    default_code = "weak_password"


class InvalidClientId(InvalidInput):
    """X-Client-Id must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'."""

    default_code = "invalid_client_id"


class NotAuthenticated(Unauthorized):
    """Sign in first: send Authorization: Bearer <access token>."""

    default_code = "not_authenticated"


class ClientIdRequired(Unauthorized):
    """Send an X-Client-Id header (8-64 characters of A-Z, a-z, 0-9, '_' and '-')."""

    default_code = "client_id_required"


class InvalidCredentials(Unauthorized):
    """Wrong username or password."""

    default_code = "invalid_credentials"


class InvalidToken(Unauthorized):
    """The token is invalid or expired."""

    default_code = "invalid_token"


class RefreshTokenReused(Unauthorized):
    """This refresh token was already used; every token of its sign-in has been revoked. Sign in again."""

    default_code = "refresh_token_reused"


class PermissionDenied(Forbidden):
    """You do not have permission to do this."""

    default_code = "permission_denied"


class RegistrationClosed(Forbidden):
    """Registration is closed; ask an administrator for an account."""

    default_code = "registration_closed"


class UserNotFound(NotFound):
    """User not found."""

    default_code = "user_not_found"


class UsernameTaken(Conflict):
    """This username is taken."""

    default_code = "username_taken"


class EmailTaken(Conflict):
    """This email address is already registered."""

    default_code = "email_taken"


class LastAdmin(Conflict):
    """The last active administrator cannot be removed, deactivated or demoted."""

    default_code = "last_admin"


class AccountLocked(RateLimited):
    """Too many failed sign-ins; try again later."""

    default_code = "account_locked"
