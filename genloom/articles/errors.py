"""Errors of articles (codes are stable; surfaces render them in their own shape).

    NotFound            404  article_not_found      unknown id, another user's draft, or deleted
    NotFound            404  version_not_found      no such version of a readable article
    NotFound            404  collaborator_not_found the user to invite does not exist
    Forbidden           403  article_read_only      readable (published) but the caller may not change it
    Forbidden           403  author_only            publishing, deleting and sharing are the author's
    Conflict            409  version_conflict       body ``version`` is stale
    PreconditionFailed  412  precondition_failed    If-Match does not match the current ETag
    PreconditionRequired 428 precondition_required  a full save sent neither If-Match nor version
    PayloadTooLarge     413  content_too_large      content over the size limit
    InvalidInput        400  invalid_collaborator   the author cannot be their own collaborator
"""

from __future__ import annotations

from genloom.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
)


class ArticleNotFound(NotFound):
    """Article not found."""

    default_code = "article_not_found"


class VersionNotFound(NotFound):
    """This version of the article does not exist."""

    default_code = "version_not_found"


class CollaboratorNotFound(NotFound):
    """No such user."""

    default_code = "collaborator_not_found"


class ArticleReadOnly(Forbidden):
    """You may read this article but not change it."""

    default_code = "article_read_only"


class AuthorOnly(Forbidden):
    """Only the article's author (or an admin) may do this."""

    default_code = "author_only"


class VersionConflict(Conflict):
    """The article was saved by someone else since you read it; reload it and try again."""

    default_code = "version_conflict"


class EtagMismatch(PreconditionFailed):
    """If-Match does not match the article's current ETag; reload it and try again."""

    default_code = "precondition_failed"


class VersionRequired(PreconditionRequired):
    """Send If-Match (the ETag from GET) or "version" to save an article."""

    default_code = "precondition_required"


class ContentTooLarge(PayloadTooLarge):
    """The article content is too large."""

    default_code = "content_too_large"


class InvalidCollaborator(InvalidInput):
    """The author already has every right; invite someone else."""

    default_code = "invalid_collaborator"
