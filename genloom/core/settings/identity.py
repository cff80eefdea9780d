"""Identity: auth mode per surface, tokens, lockout, registration (docs/identity.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from genloom.core.settings.fields import AuthMode, alias


class IdentitySettings(BaseSettings):
    auth_mode_native: AuthMode = Field(default=AuthMode.open)
    auth_mode_studio: AuthMode = Field(default=AuthMode.open)
    auth_mode_cinemind: AuthMode = Field(default=AuthMode.open)
    auth_mode_huaban: AuthMode = Field(default=AuthMode.client)
    auth_mode_genflow: AuthMode = Field(default=AuthMode.user)
    # HS256 key for access tokens; empty = derived from GENLOOM_SECRET_KEY
    jwt_secret: str = Field(default="", repr=False, validation_alias=alias("GENLOOM_JWT_SECRET", "JWT_SECRET"))
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    password_min_length: int = Field(default=8, ge=6, le=128)
    # argon2id cost (defaults: RFC 9106's low-memory profile); GENLOOM_ENV=prod refuses anything cheaper
    password_hash_time_cost: int = Field(default=3, ge=1, le=100)
    password_hash_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # open: anyone may register; admin: only an admin (Bearer) may; closed: nobody (admins use POST /users)
    registration: str = Field(default="open", pattern="^(open|admin|closed)$")
    # `genloom init-users` creates this admin when no admin exists yet
    admin_username: str = Field(default="admin")
    admin_password: str = Field(default="", repr=False)
    admin_email: str = Field(default="")
