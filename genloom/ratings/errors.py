"""Errors of ratings.

    GenloomError
    ├── NotFound
    │   └── RatingNotFound      404  the subtask has no rating yet
    ├── Forbidden
    │   └── NotJobOwner         403  an administrator may read, but only the owner rates
    └── Conflict
        └── NotRatable          409  not finished, or a task (rate its subtasks)
"""

from __future__ import annotations

from genloom.core.errors import Conflict, Forbidden, NotFound


class RatingNotFound(NotFound):
    """This job has no rating."""

    default_code = "rating_not_found"


class NotJobOwner(Forbidden):
    """Only the owner of a job can rate it."""

    default_code = "not_job_owner"


class NotRatable(Conflict):
    """Only a finished subtask can be rated."""

    default_code = "not_ratable"
