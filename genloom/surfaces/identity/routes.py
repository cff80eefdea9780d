"""``/auth`` (register, login, refresh, logout) and ``/users`` (me, admin management)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ValidationError

from genloom.core.errors import InvalidInput
from genloom.core.paging import MAX_DB_INT
from genloom.core.settings import Settings
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep, SettingsDep
from genloom.identity import auth, service
from genloom.identity.deps import CurrentUser, OptionalCaller
from genloom.identity.errors import NotAuthenticated
from genloom.identity.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserAdminUpdate,
    UserCreate,
    UserList,
    UserRead,
    UserUpdateMe,
)
from genloom.runtime import Runtime

router = APIRouter()


@asynccontextmanager
async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
    """Expired refresh tokens are pruned in the background for the app's lifetime."""
    task = asyncio.create_task(auth.prune_forever(runtime.db), name="genloom-token-pruner")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _problem(status: int, code: str, message: str) -> dict[str, Any]:
    body = {"code": code, "message": message, "status": status}
    return {"description": message, "content": {"application/problem+json": {"example": body}}}

def _form_field(model: type[BaseModel], name: str, **extra: Any) -> dict[str, Any]:
    """A form field's schema: the JSON body's own rules for it (lengths), the same model validating both."""
    return {**model.model_json_schema()["properties"][name], **extra}


_FORM_SCHEMA = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": _form_field(LoginRequest, "username"),
        "password": _form_field(LoginRequest, "password", format="password"),
        "scope": {"type": "string"},
    },
}
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema(),
                                 "example": {"username": "mei", "password": "correct horse battery"}},
            "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
        },
    }
}
_REFRESH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RefreshRequest.model_json_schema(),
                                 "example": {"refresh_token": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b.Xk2…"}},
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["refresh_token"],
                "properties": {"grant_type": {"type": "string", "enum": ["refresh_token"]},
                               "refresh_token": _form_field(RefreshRequest, "refresh_token")}}},
        },
    }
}


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return InvalidInput(f"{field}: {first.get('msg', 'invalid')}" if field else "invalid request", field=field,
                        code="validation_error")


def _parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


async def _json_or_form(request: Request, model: type[BaseModel], grant: str, fields: tuple[str, ...]) -> Any:
    """A JSON body, or the OAuth2 form for ``grant`` (the OpenAPI "Authorize" button sends the password form)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        if form.get("grant_type") not in (None, "", grant):
            raise InvalidInput(f"grant_type must be {grant!r}", field="grant_type", code="unsupported_grant_type")
        return _parse(model, {name: form.get(name) for name in fields})
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError:
        raise InvalidInput("the body is not valid JSON", code="invalid_json") from None
    return _parse(model, data)


@router.post("/auth/register", status_code=201, response_model=UserRead, tags=["Auth"], summary="Create an account",
             responses={403: _problem(403, "registration_closed", "Registration is closed on this server."),
                        409: _problem(409, "username_taken", "This username is taken.")})
async def register(
    body: RegisterRequest, session: SessionDep, settings: SettingsDep, caller: OptionalCaller
) -> dict[str, Any]:
    user = await service.register_user(
        session, caller, registration=settings.registration, username=body.username, password=body.password,
        email=body.email, password_min_length=settings.password_min_length,
    )
    return service.user_dict(user)


@router.post(
    "/auth/login", response_model=TokenPair, tags=["Auth"], openapi_extra=_LOGIN_BODY,
    responses={401: _problem(401, "invalid_credentials", "Wrong username or password."),
               403: _problem(403, "account_disabled", "this account is disabled"),
               429: _problem(429, "account_locked", "Too many failed sign-ins; try again later.")},
    summary="Sign in (JSON or the OAuth2 password form) and get an access and a refresh token",
)
async def login(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    body: LoginRequest = await _json_or_form(request, LoginRequest, "password", ("username", "password"))
    return await auth.login_flow(runtime.db, runtime.settings, username=body.username, password=body.password,
                                 user_agent=request.headers.get("user-agent"))


@router.post("/auth/refresh", response_model=TokenPair, tags=["Auth"],
             responses={401: _problem(401, "refresh_token_reused", "This refresh token was already used; every token "
                                                                   "of its sign-in has been revoked. Sign in again.")},
             openapi_extra=_REFRESH_BODY,
             summary="Trade a refresh token for a new pair (the old one stops working); JSON or the OAuth2 form")
async def refresh(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    body: RefreshRequest = await _json_or_form(request, RefreshRequest, "refresh_token", ("refresh_token",))
    return await auth.refresh_flow(runtime.db, runtime.settings, refresh_token=body.refresh_token,
                                   user_agent=request.headers.get("user-agent"))


@router.post("/auth/logout", status_code=204, tags=["Auth"],
             summary="Revoke a refresh token's sign-in, or (everywhere: true) all of the signed-in user's")
async def logout(body: LogoutRequest, runtime: RuntimeDep, caller: OptionalCaller) -> Response:
    if body.everywhere and caller.user_id is None:
        raise NotAuthenticated("sign in to log out everywhere")
    if not body.refresh_token and not body.everywhere:
        raise InvalidInput("send refresh_token, or everywhere: true with a Bearer token", field="refresh_token")
    await auth.logout_flow(runtime.db, refresh_token=body.refresh_token,
                           user_id=caller.user_id if body.everywhere else None)
    return Response(status_code=204)


_ADMINS_ONLY = _problem(403, "permission_denied", "This needs the users:manage permission (administrators).")
_EMAIL_TAKEN = _problem(409, "email_taken", "This email address is already used by another account.")


@router.get("/users/me", response_model=UserRead, tags=["Users"], summary="Your account")
async def read_me(session: ReadSessionDep, me: CurrentUser) -> dict[str, Any]:
    assert me.user_id is not None
    return service.user_dict(await service.get_user(session, me, me.user_id))


@router.patch("/users/me", response_model=UserRead, tags=["Users"], responses={409: _EMAIL_TAKEN},
              summary="Change your email, password (with old_password) or preferences (JSON merge patch)")
async def update_me(body: UserUpdateMe, session: SessionDep, settings: SettingsDep, me: CurrentUser) -> dict[str, Any]:
    changes = body.model_dump(include=body.model_fields_set)
    user = await service.update_me(session, me, changes, password_min_length=settings.password_min_length)
    return service.user_dict(user)


@router.get("/users", response_model=UserList, tags=["Users"], summary="List users (administrators)",
            responses={403: _ADMINS_ONLY})
async def list_users(
    session: ReadSessionDep,
    me: CurrentUser,
    skip: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    users, total = await service.list_users(session, me, skip=skip, limit=limit)
    return {"items": [service.user_dict(u) for u in users], "total": total, "skip": skip, "limit": limit}


@router.post("/users", status_code=201, response_model=UserRead, tags=["Users"],
             responses={403: _ADMINS_ONLY, 409: _problem(409, "username_taken", "This username is taken.")},
             summary="Create a user with any roles (administrators)")
async def create_user(body: UserCreate, session: SessionDep, settings: SettingsDep, me: CurrentUser) -> dict[str, Any]:
    user = await service.create_user(
        session, me, username=body.username, password=body.password, email=body.email, roles=body.roles,
        is_active=body.is_active, password_min_length=settings.password_min_length,
    )
    return service.user_dict(user)


@router.patch("/users/{user_id}", response_model=UserRead, tags=["Users"],
              responses={403: _ADMINS_ONLY, 404: _problem(404, "user_not_found", "User not found."),
                         409: _problem(409, "last_admin", "The last active administrator cannot be removed, "
                                                          "deactivated or demoted.")},
              summary="Change a user's roles, active flag, email or password, or lift a lockout (administrators)")
async def update_user(
    user_id: str, body: UserAdminUpdate, session: SessionDep, settings: SettingsDep, me: CurrentUser
) -> dict[str, Any]:
    changes = body.model_dump(include=body.model_fields_set)
    user = await service.admin_update(session, me, user_id, changes, password_min_length=settings.password_min_length)
    return service.user_dict(user)


@router.delete("/users/{user_id}", status_code=204, tags=["Users"], summary="Delete a user (administrators)",
               responses={403: _ADMINS_ONLY, 404: _problem(404, "user_not_found", "User not found."),
                          409: _problem(409, "last_admin", "The last active administrator cannot be removed, "
                                                           "deactivated or demoted.")})
async def delete_user(user_id: str, session: SessionDep, me: CurrentUser) -> Response:
    await service.delete_user(session, me, user_id)
    return Response(status_code=204)


def refine_openapi(doc: dict[str, Any], settings: Settings) -> None:
    """The configured minimum password length, on every schema that sets a password."""
    schemas = doc["components"]["schemas"]
    for name in ("RegisterRequest", "UserCreate", "UserUpdateMe", "UserAdminUpdate"):
        password = schemas.get(name, {}).get("properties", {}).get("password")
        if password is None:
            continue
        for option in [password, *password.get("anyOf", [])]:
            if option.get("type") == "string":
                option["minLength"] = settings.password_min_length
