"""RFC 3339 date-times, strictly: what OpenAPI's ``format: date-time`` promises, nothing more.

pydantic's lax datetime also takes numbers (``0.5`` as a Unix time), bare dates and times without an offset;
the OpenAPI document says ``date-time``, so those are refused with a 400 naming the field."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _only_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T08:00:00Z")
    return value


#: a datetime field or parameter that accepts only RFC 3339 text (or a datetime, from Python callers)
Rfc3339 = Annotated[datetime, BeforeValidator(_only_rfc3339)]
