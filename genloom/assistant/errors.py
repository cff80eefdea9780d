"""Errors of the writing assistant (stable codes; surfaces render them in their own shape)."""

from __future__ import annotations

from genloom.core.errors import Conflict, NotFound, UpstreamError


class SessionNotFound(NotFound):
    """No such assistant session."""

    default_code = "session_not_found"


class MessageNotFound(NotFound):
    """No such message in this session."""

    default_code = "message_not_found"


class ArticleNotFound(NotFound):
    """No such article, or you may not read it."""

    default_code = "article_not_found"


class ReplyFinished(Conflict):
    """The reply has already finished."""

    default_code = "reply_finished"


class ProviderUnavailable(UpstreamError):
    """The text provider is unavailable; try again shortly."""

    status = 503
    default_code = "provider_unavailable"
