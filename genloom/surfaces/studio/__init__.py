"""Studio Core: ``POST /api/generate`` and ``GET /api/status/{job_id}``; errors as ``{"error": "…"}``."""

from __future__ import annotations

from genloom.core.http import path_startswith
from genloom.surface import ErrorShape, Surface
from genloom.surfaces.studio import routes
from genloom.system.hot_reads import HotRead

surface = Surface(
    name="studio",
    routers=(routes.router,),
    errors=ErrorShape(path_startswith("/api/"), routes.render_error, media_type="application/json",
                      schema=routes.ERROR_SCHEMA),
    openapi=routes.refine_openapi,
    hot_reads=(HotRead("/api/status/", routes.status_body),),
    openapi_tags=({"name": "Studio", "description": "Studio Core: generate and poll."},),
)
