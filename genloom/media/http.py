"""HTTP details of serving files: byte ranges (RFC 9110 §14) and conditional requests (§13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """The Range header asks for bytes the file does not have (answer 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, clamped to the file; None means "send it all".

    Multi-range requests and malformed headers are ignored (answered 200 with the whole file), which RFC 9110
    allows; a well-formed range that starts past the end raises Unsatisfiable."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or (first == last == ""):
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid range: ignore it
    if start >= size:
        raise Unsatisfiable()
    return ByteRange(start, end)


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _parse_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def not_modified(etag: str, modified_at: datetime, *, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """True when the client's cached copy is current (answer 304). If-None-Match wins over If-Modified-Since."""
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or etag.removeprefix("W/") in tags
    if if_modified_since:
        since = _parse_date(if_modified_since)
        return since is not None and modified_at.replace(microsecond=0) <= since
    return False


def range_applies(etag: str, modified_at: datetime, if_range: str | None) -> bool:
    """If-Range: honour the Range only when the validator still matches (a strong ETag or the exact date)."""
    if not if_range:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # weak tags never match for If-Range
    since = _parse_date(value)
    return since is not None and modified_at.replace(microsecond=0) == since
