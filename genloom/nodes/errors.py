"""Errors of the nodes feature (codes are stable)."""

from __future__ import annotations

from genloom.core.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired


class NodeNotFound(NotFound):
    """Node not found."""

    default_code = "node_not_found"


class VersionConflict(Conflict):
    """The node was changed by someone else; reload it and try again."""

    default_code = "version_conflict"


class EtagMismatch(PreconditionFailed):
    """If-Match does not match the node's current ETag; reload it and try again."""

    default_code = "precondition_failed"


class VersionRequired(PreconditionRequired):
    """Send If-Match (the ETag from GET) or "version" to update a node."""

    default_code = "precondition_required"
