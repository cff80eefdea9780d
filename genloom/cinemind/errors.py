"""Errors of cineMind (codes are stable)."""

from __future__ import annotations

from genloom.core.errors import InvalidInput, NotFound


class TaskNotFound(NotFound):
    """Task not found."""

    default_code = "task_not_found"


class ResultNotFound(NotFound):
    """Result not found."""

    default_code = "result_not_found"


class UnknownNodes(InvalidInput):
    """Some related nodes do not exist or were deleted."""

    default_code = "unknown_nodes"


class InvalidDir(InvalidInput):
    """The directory is not a path inside the media root."""

    default_code = "invalid_dir"
