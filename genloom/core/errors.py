"""One error hierarchy for the whole service.

    GenloomError                      code, message, status, field, retryable
    ├── InvalidInput        400       bad request data (names the field)
    ├── Unauthorized        401
    ├── Forbidden           403
    ├── NotFound            404       also answers for another owner's ids
    ├── Conflict            409
    ├── PreconditionFailed  412
    ├── PayloadTooLarge     413
    ├── PreconditionRequired 428
    ├── RateLimited         429
    ├── Unavailable         503       database, queue or storage down (retryable)
    └── UpstreamError       502       a provider failed (retryable decides whether the queue retries;
                                      outage: the provider is down as a whole, so the job waits without
                                      using up an attempt)

Features subclass these in their own ``errors.py``. The ``code`` is a stable, machine-readable string; the
message defaults to the class docstring. Surfaces render the same error in their own envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GenloomError(Exception):
    """Something went wrong."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or (self.__doc__ or "error").strip().splitlines()[0]
        self.code = code or self.default_code
        self.field = field
        self.retryable = retryable
        self.retry_after = retry_after
        self.details = details or {}
        if status is not None:
            self.status = status  # type: ignore[misc]
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(GenloomError):
    """The request is not valid."""

    status = 400
    default_code = "invalid_input"


class Unauthorized(GenloomError):
    """Authentication is required."""

    status = 401
    default_code = "unauthorized"


class Forbidden(GenloomError):
    """You may not do this."""

    status = 403
    default_code = "forbidden"


class NotFound(GenloomError):
    """Not found."""

    status = 404
    default_code = "not_found"


class Conflict(GenloomError):
    """The request conflicts with the current state."""

    status = 409
    default_code = "conflict"


class PreconditionFailed(GenloomError):
    """The resource changed since you read it."""

    status = 412
    default_code = "precondition_failed"


class PayloadTooLarge(GenloomError):
    """The request body is too large."""

    status = 413
    default_code = "payload_too_large"


class PreconditionRequired(GenloomError):
    """Send If-Match (or a version) to change this resource."""

    status = 428
    default_code = "precondition_required"


class RateLimited(GenloomError):
    """Too many requests; slow down."""

    status = 429
    default_code = "rate_limited"


class Unavailable(GenloomError):
    """A service genloom depends on is unavailable."""

    status = 503
    default_code = "unavailable"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(message, **kw)


class UpstreamError(GenloomError):
    """An AI provider failed."""

    status = 502
    default_code = "upstream_failed"

    def __init__(self, message: str | None = None, *, outage: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: the provider is unreachable or refusing everyone (not this job's request): the queue puts the job back
        #: until the provider's next probe without counting an attempt, for at most the outage window
        self.outage = outage
