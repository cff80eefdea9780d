"""Request and response shapes of /auth and /users."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
# Deliberately simple: one "@", a dot in the domain, no spaces. Delivery is the real test of an address.
# Whitespace spelled out: Python's \s and JSON Schema's (ECMA-262) \s differ, and the document states this pattern.
_NOT_AT_OR_SPACE = r"[^@\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_RE = re.compile(rf"^{_NOT_AT_OR_SPACE}{{1,64}}@{_NOT_AT_OR_SPACE}+\.{_NOT_AT_OR_SPACE}{{2,}}$")
MAX_PREFERENCES_BYTES = 64 * 1024


def check_username(value: str) -> str:
    value = value.strip()
    if not USERNAME_RE.match(value):
        raise ValueError("3-32 characters: letters, digits, '_', '.' and '-'")
    return value


def check_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


def check_roles(value: list[str]) -> list[str]:
    from genloom.core.principal import Role

    known = {r.value for r in Role}
    out: list[str] = []
    for role in value:
        if role not in known:
            raise ValueError(f"unknown role {role!r}; roles are {sorted(known)}")
        if role not in out:
            out.append(role)
    return out


def check_preferences(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        import json

        if len(json.dumps(value)) > MAX_PREFERENCES_BYTES:
            raise ValueError(f"at most {MAX_PREFERENCES_BYTES} bytes of JSON")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"username": "mei", "password": "correct horse battery", "email": "mei@example.com"}})

    username: str = Field(min_length=3, max_length=32, json_schema_extra={"pattern": USERNAME_RE.pattern})
    password: str = Field(min_length=1, max_length=1024)
    email: str | None = Field(default=None, max_length=254, json_schema_extra={"pattern": EMAIL_RE.pattern})

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return check_username(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)


class LoginRequest(_Strict):
    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "example": {"username": "mei", "password": "correct horse battery"}})

    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=300)


class LogoutRequest(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"refresh_token": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b.Xk2…"},
        # one of the two is needed (everywhere: true also needs a Bearer token)
        "anyOf": [{"required": ["refresh_token"], "properties": {"refresh_token": {"type": "string", "minLength": 1}}},
                  {"required": ["everywhere"], "properties": {"everywhere": {"const": True}}}]})

    refresh_token: str | None = Field(default=None, max_length=300)
    #: revoke every refresh token of the signed-in user and invalidate their access tokens
    everywhere: StrictBool = False


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…", "refresh_token": "0193a1b2-….Xk2…",
        "token_type": "bearer", "expires_in": 900}})

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


USER_EXAMPLE: dict[str, Any] = {
    "id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "username": "mei", "email": "mei@example.com",
    "roles": ["user"], "is_active": True, "preferences": {"theme": "dark"},
    "owner_id": "u:0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "created_at": "2026-11-23T12:00:00Z",
    "updated_at": "2026-11-23T12:00:00Z", "last_login_at": None}


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": USER_EXAMPLE})

    id: str
    username: str
    email: str | None
    roles: list[str]
    is_active: bool
    preferences: dict[str, Any]
    owner_id: str
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [USER_EXAMPLE], "total": 1, "skip": 0,
                                                             "limit": 50}})

    items: list[UserRead]
    total: int
    skip: int
    limit: int


_EMAIL: JsonDict = {"pattern": EMAIL_RE.pattern}
_USERNAME: JsonDict = {"pattern": USERNAME_RE.pattern}
_ROLES: JsonDict = {"items": {"type": "string", "enum": ["admin", "user"]}}


class UserUpdateMe(_Strict):
    """Change your email, password (send the current one too) or preferences."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": "mei@example.org", "preferences": {"theme": "dark", "language": "zh-CN"}},
        {"password": "a longer passphrase now", "old_password": "correct horse battery"},
    ]})

    email: str | None = Field(default=None, max_length=254, json_schema_extra=_EMAIL)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    old_password: str | None = Field(default=None, max_length=1024)
    preferences: dict[str, Any] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)

    @field_validator("preferences")
    @classmethod
    def _preferences(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_preferences(value)


class UserCreate(_Strict):
    """An administrator creates an account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "kai", "password": "correct horse battery", "email": "kai@example.com", "roles": ["user"]},
    ]})

    username: str = Field(min_length=3, max_length=32, json_schema_extra=_USERNAME)
    password: str = Field(min_length=1, max_length=1024)
    email: str | None = Field(default=None, max_length=254, json_schema_extra=_EMAIL)
    roles: list[str] = Field(default_factory=lambda: ["user"], json_schema_extra=_ROLES)
    is_active: bool = True

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return check_username(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return check_roles(value)


class UserAdminUpdate(_Strict):
    """An administrator changes roles, the active flag, the email or the password, or lifts a lockout."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"roles": ["admin", "user"]}, {"is_active": False}, {"unlock": True},
    ]})

    roles: list[str] | None = Field(default=None, json_schema_extra=_ROLES)
    is_active: bool | None = None
    email: str | None = Field(default=None, max_length=254, json_schema_extra=_EMAIL)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    unlock: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str] | None) -> list[str] | None:
        return check_roles(value) if value is not None else None
