"""Identity (shared by Backend2 and GenFlow): ``/auth/*`` and ``/users*``; errors are problem+json."""

from __future__ import annotations

from genloom.surface import Surface
from genloom.surfaces.identity import routes

surface = Surface(
    name="identity",
    routers=(routes.router,),
    lifespan=routes.lifespan,
    openapi=routes.refine_openapi,
    openapi_tags=(
        {"name": "Auth", "description": "Register, sign in (JWT access + rotating refresh tokens), refresh, sign out."},
        {"name": "Users", "description": "Your account and preferences; user management for administrators."},
    ),
)
