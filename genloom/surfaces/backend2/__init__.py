"""Backend2: ratings of finished subtasks (``/v1/jobs/{id}/rating``, ``/v1/jobs/{id}/subtasks``). Its tasks are
native batch jobs with a shared ``setting`` (:mod:`genloom.tasks.setting`); its users come from identity."""

from __future__ import annotations

from genloom.surface import Surface
from genloom.surfaces.backend2 import ratings

surface = Surface(
    name="backend2",
    routers=(ratings.router,),
    openapi_tags=({"name": "Ratings", "description": "Rate finished subtasks 1-5 (Backend2 tasks)."},),
)
