"""cineMind's media browser: a directory tree, a paged file list and per-image metadata, over any BlobStore.

The tree is built from the store's prefix listing, so it works the same on the local disk and on S3. It covers
cineMind's own folders (``images/``, ``thumbs/``) and shows only files the caller owns (a ``graph_results``
row names them), so other apps' and other owners' media never appear.

``dir`` is checked before the store sees it: ``..``/``.`` segments, absolute paths, backslashes, percent signs
(an encoded ``%2e%2e`` arrives decoded once; anything still encoded is refused), control characters, and — on
the local store — a folder that resolves (through a symlink) outside the media root are all a 400.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.cinemind.errors import InvalidDir
from genloom.cinemind.models import GraphResult
from genloom.core.principal import Principal, scoped
from genloom.runtime import Runtime
from genloom.storage.base import BlobStat
from genloom.storage.errors import InvalidKey
from genloom.storage.keys import validate_prefix
from genloom.storage.local import LocalBlobStore
from genloom.storage.mime import guess_mime

ROOTS = ("images", "thumbs")
#: what :func:`safe_dir` accepts, as a JSON Schema pattern: the root ("", "/", "."), or a folder under one of ROOTS
DIR_PATTERN = r"^(/|\.|(" + "|".join(ROOTS) + r")(/[A-Za-z0-9_=+@-][A-Za-z0-9._=+@-]*)*/?)?$"
MAX_DEPTH = 10
DEFAULT_DEPTH = 6
MAX_ENTRIES = 20_000  # files considered by one tree request
_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_dir(raw: str | None, runtime: Runtime) -> str:
    """A normalised folder key ("" for the root, else "images/2026/…" without a trailing slash) or InvalidDir."""
    if raw is None:
        return ""
    text = raw.strip()
    if text in ("", "/", "."):
        return ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text) or "\\" in text or "%" in text:
        raise InvalidDir("dir contains characters that are not allowed", field="dir")
    if text.startswith("/") or text.startswith("~") or _DRIVE.match(text):
        raise InvalidDir("dir must be a relative path inside the media root", field="dir")
    text = text.rstrip("/")
    if any(seg in ("", ".", "..") for seg in text.split("/")):
        raise InvalidDir("dir must not contain empty, '.' or '..' segments", field="dir")
    if text.split("/", 1)[0] not in ROOTS:
        raise InvalidDir(f"dir must be inside one of: {', '.join(ROOTS)}", field="dir")
    try:
        validate_prefix(text + "/", field="dir")
    except InvalidKey as exc:
        raise InvalidDir(exc.message, field="dir") from None
    blobs = runtime.blobs
    if isinstance(blobs, LocalBlobStore):
        resolved = (blobs.root / text).resolve()
        if not resolved.is_relative_to(blobs.root) or _has_symlink(blobs.root, text):
            raise InvalidDir("dir leads outside the media root", field="dir")
    return text


def _has_symlink(root: Path, rel: str) -> bool:
    path = root
    for seg in rel.split("/"):
        path = path / seg
        if path.is_symlink():
            return True
    return False


async def _owned_keys(session: AsyncSession, principal: Principal, keys: list[str]) -> set[str]:
    """Those of ``keys`` that are an image or thumbnail of the caller's graph results."""
    owned: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        query: Select[Any] = select(GraphResult.storage_path, GraphResult.thumbnail_path)  # type: ignore[assignment]
        stmt = scoped(query, GraphResult.owner_id, principal, "graph_results").where(or_(GraphResult.storage_path.in_(chunk),
                                                 GraphResult.thumbnail_path.in_(chunk)))
        for row in (await session.execute(stmt)).all():
            owned.update(k for k in (row.storage_path, row.thumbnail_path) if k)
    return owned & set(keys)


async def _visible(session: AsyncSession, runtime: Runtime, principal: Principal, prefix: str, *,
                   recursive: bool) -> list[BlobStat]:
    prefixes = [f"{prefix}/"] if prefix else [f"{r}/" for r in ROOTS]
    stats: list[BlobStat] = []
    for p in prefixes:
        stats += await runtime.blobs.list(p, recursive=recursive)
        if len(stats) > MAX_ENTRIES:
            stats = stats[:MAX_ENTRIES]
            break
    owned = await _owned_keys(session, principal, [s.key for s in stats])
    return [s for s in stats if s.key in owned]


def _file(runtime: Runtime, stat: BlobStat) -> dict[str, Any]:
    from genloom.cinemind.service import media_url

    return {"name": stat.key.rsplit("/", 1)[-1], "path": stat.key, "type": "file", "url": media_url(runtime, stat.key),
            "size": stat.size, "mime": stat.mime or guess_mime(stat.key),
            "modifiedAt": stat.modified_at.isoformat().replace("+00:00", "Z")}


async def tree(session: AsyncSession, runtime: Runtime, principal: Principal, *, dir: str | None,
               depth: int = DEFAULT_DEPTH) -> dict[str, Any]:
    """The folder ``dir`` as nested ``{name, path, type, children}``, ``depth`` levels deep."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidDir(f"depth must be between 1 and {MAX_DEPTH}", field="depth")
    base = safe_dir(dir, runtime)
    root: dict[str, Any] = {"name": base.rsplit("/", 1)[-1] if base else "media", "path": base, "type": "dir",
                            "children": []}
    if not base:  # cineMind's folders always show, even before the first image
        for name in ROOTS:
            root["children"].append({"name": name, "path": name, "type": "dir", "children": []})
    index: dict[str, dict[str, Any]] = {base: root, **{c["path"]: c for c in root["children"]}}
    for stat in await _visible(session, runtime, principal, base, recursive=True):
        rel = stat.key[len(base) + 1 :] if base else stat.key
        parts = rel.split("/")
        parent = root
        path = base
        for level, seg in enumerate(parts[:-1], start=1):
            path = f"{path}/{seg}" if path else seg
            node = index.get(path)
            if node is None:
                node = {"name": seg, "path": path, "type": "dir", "children": []}
                parent["children"].append(node)
                index[path] = node
            parent = node
            if level == depth:  # shown, but not opened: the client asks again with dir=<its path>
                node["truncated"] = True
                break
        else:
            parent["children"].append(_file(runtime, stat))
    return root


async def files(session: AsyncSession, runtime: Runtime, principal: Principal, *, dir: str | None, page: int,
                size: int, recursive: bool = False) -> dict[str, Any]:
    """The files directly inside ``dir`` (newest first), one page; with ``recursive`` also those of every folder
    below it (``dir=images&recursive=true``: every image, whatever its dated folder)."""
    base = safe_dir(dir, runtime)
    # the root holds only cineMind's folders, never files of its own
    stats = await _visible(session, runtime, principal, base, recursive=recursive) if base or recursive else []
    stats.sort(key=lambda s: (s.modified_at, s.key), reverse=True)
    chunk = stats[(page - 1) * size : page * size]
    return {"dir": base, "items": [_file(runtime, s) for s in chunk], "total": len(stats), "page": page, "size": size}
