"""Entity tags for optimistic locking and conditional GETs (RFC 9110 §8.8.3, §13.1)."""

from __future__ import annotations

import hashlib


def strong_etag(*parts: object, version: int) -> str:
    """A strong ETag ``"<version>-<digest>"``: changes whenever any of ``parts`` does, never repeats across ids."""
    digest = hashlib.sha256(":".join(str(p) for p in (*parts, version)).encode()).hexdigest()[:20]
    return f'"{version}-{digest}"'


def etag_matches(header: str, etag: str, *, weak: bool = False) -> bool:
    """RFC 9110 list matching. If-Match uses strong comparison (a W/ tag never matches); If-None-Match weak."""
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            if not weak:
                continue
            tag = tag[2:]
        if tag == etag:
            return True
    return False
