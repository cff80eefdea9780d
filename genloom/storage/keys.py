"""Storage keys: validation (nothing may escape the store) and the key layouts the apps rely on.

A key is a relative, ``/``-separated path of ASCII segments: letters, digits, ``.``, ``_``, ``-``, ``=``,
``+``, ``@``. No segment is empty, ``.``/``..`` or starts with a dot (the local store keeps its temporary
files under dot names, so they can never be addressed). Backslashes, ``%`` (so an encoded ``%2e%2e`` can never
be decoded into a traversal later), control characters and absolute paths are refused outright.
"""

from __future__ import annotations

import re
from datetime import datetime

from genloom.core.db import utc_now
from genloom.storage.errors import InvalidKey

MAX_KEY_LENGTH = 512  # the assets.key column
MAX_SEGMENT_LENGTH = 200
_SEGMENT = re.compile(r"[A-Za-z0-9_\-=+@][A-Za-z0-9._\-=+@]*")
_SEGMENT_PATTERN = rf"[A-Za-z0-9_=+@-][A-Za-z0-9._=+@-]{{0,{MAX_SEGMENT_LENGTH - 1}}}"
#: what :func:`validate_key` accepts, as a JSON Schema pattern (with ``maxLength`` = MAX_KEY_LENGTH)
KEY_PATTERN = rf"^{_SEGMENT_PATTERN}(/{_SEGMENT_PATTERN})*$"
_EXT = re.compile(r"[a-z0-9]{1,8}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}")


def validate_key(key: object, *, field: str = "key") -> str:
    """Return ``key`` if it is a safe storage key; raise InvalidKey (400) naming what is wrong."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("the key is empty", field=field)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"the key is longer than {MAX_KEY_LENGTH} characters", field=field)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidKey("the key contains control characters", field=field)
    if "\\" in key:
        raise InvalidKey("the key contains a backslash", field=field)
    if "%" in key:
        raise InvalidKey("the key contains percent-encoding", field=field)
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise InvalidKey("the key must be a relative path", field=field)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey("the key contains an empty, '.' or '..' segment", field=field)
        if len(segment) > MAX_SEGMENT_LENGTH or not _SEGMENT.fullmatch(segment):
            raise InvalidKey(f"the key segment {segment[:40]!r} has characters outside [A-Za-z0-9._-=+@]", field=field)
    return key


def validate_prefix(prefix: str, *, field: str = "prefix") -> str:
    """A listing prefix: empty, or a key (or the start of one) that may end with ``/``."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix, field=field)
    return prefix


def is_valid_key(key: object) -> bool:
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


def _part(value: str, name: str) -> str:
    if not _ID.fullmatch(value):
        raise InvalidKey(f"{name} must be 1–128 characters of [A-Za-z0-9_-]", field=name)
    return value


def _ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _EXT.fullmatch(ext):
        raise InvalidKey("the file extension must be 1–8 characters of [a-z0-9]", field="ext")
    return ext


def _day(when: datetime | None) -> str:
    return (when or utc_now()).strftime("%Y/%m/%d")


def cinemind_image_key(image_id: str, ext: str, *, when: datetime | None = None) -> str:
    """cineMind originals: ``images/YYYY/MM/DD/{id}.{ext}``."""
    return f"images/{_day(when)}/{_part(image_id, 'image_id')}.{_ext(ext)}"


def cinemind_thumb_key(image_id: str, ext: str, *, when: datetime | None = None) -> str:
    """cineMind thumbnails: ``thumbs/YYYY/MM/DD/{id}_thumb.{ext}``."""
    return f"thumbs/{_day(when)}/{_part(image_id, 'image_id')}_thumb.{_ext(ext)}"


def huaban_key(client_id: str, artwork_id: str, kind: str, version: int, ext: str) -> str:
    """HuaBan artwork files: ``clients/{clientId}/artworks/{artworkId}/{type}/v{n}/file.{ext}``."""
    if not isinstance(version, int) or version < 1:
        raise InvalidKey("the version must be a positive integer", field="version")
    return (
        f"clients/{_part(client_id, 'client_id')}/artworks/{_part(artwork_id, 'artwork_id')}/"
        f"{_part(kind, 'type')}/v{version}/file.{_ext(ext)}"
    )


def job_asset_key(job_id: str, asset_id: str, ext: str, *, when: datetime | None = None) -> str:
    """Files made by native jobs: ``jobs/YYYY/MM/DD/{job_id}/{asset_id}.{ext}``."""
    return f"jobs/{_day(when)}/{_part(job_id, 'job_id')}/{_part(asset_id, 'asset_id')}.{_ext(ext)}"
