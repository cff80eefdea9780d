"""Opaque cursors for keyset paging over time-ordered UUIDv7 ids (newest first: ``WHERE id < :cursor``)."""

from __future__ import annotations

import base64
import binascii

from genloom.core.errors import InvalidInput
from genloom.core.ids import is_uuid

#: The largest integer a BIGINT column (event ids) or an OFFSET takes; PostgreSQL refuses a larger one outright.
MAX_DB_INT = 2**63 - 1


#: what an id cursor looks like (base64url of a UUID, unpadded); only cursors this server issued decode
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{48}$"
CURSOR_DESCRIPTION = "Opaque: the `next_cursor` of the previous page (a cursor this server did not issue is a 400)"
#: a Last-Event-ID header in the OpenAPI document: an event id (or reply offset); sent empty, it counts as not sent
#: (EventSource leaves it out when it has none, but proxies and tools may send it empty)
LAST_EVENT_ID_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_DB_INT},
                                  {"type": "string", "maxLength": 0}]}
#: what a position cursor looks like (base64url of ``p:<position>``, unpadded: always ``cDo`` and up to 25 more)
OFFSET_CURSOR_PATTERN = r"^cDo[A-Za-z0-9_-]{1,25}$"


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor points after; InvalidInput (field ``cursor``) for anything we did not issue."""
    try:
        value = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not is_uuid(value):
        raise InvalidInput("cursor is not valid", field="cursor")
    return value


def encode_offset_cursor(position: int) -> str:
    """A cursor for lists ordered by something other than id (version numbers, search rank): a position."""
    return base64.urlsafe_b64encode(f"p:{position}".encode()).decode().rstrip("=")


def decode_offset_cursor(cursor: str) -> int:
    """The position an offset cursor holds; InvalidInput (field ``cursor``) for anything we did not issue."""
    try:
        value = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        prefix, _, number = value.partition(":")
        position = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        prefix, position = "", -1
    if prefix != "p" or not 0 <= position <= MAX_DB_INT:
        raise InvalidInput("cursor is not valid", field="cursor")
    return position
