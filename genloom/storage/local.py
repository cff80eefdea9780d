"""Media on local disk under ``settings.media_root``.

Writes are atomic: bytes go to a hidden temporary file in the target folder, are fsynced, then renamed over the
key (a reader sees the old file or the new one, never half of one). Every path is resolved and checked to stay
inside the root, so a symlink that points out of the store is refused like a ``..`` key.

ETag: ``"<size>-<mtime_ns>-<inode>"`` in hex, from ``stat`` alone (no read of the file). An atomic replace always
changes the inode and mtime, so the validator changes whenever the bytes can have changed. Content hashes
(sha256) are kept on the asset rows instead.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from genloom.storage.base import BlobStat
from genloom.storage.errors import BlobNotFound, BlobTooLarge, InvalidKey
from genloom.storage.keys import validate_key, validate_prefix
from genloom.storage.mime import SNIFF_BYTES, guess_mime
from genloom.storage.signing import UrlSigner

CHUNK_SIZE = 64 * 1024  # bytes per read when streaming


class LocalBlobStore:
    name = "local"

    def __init__(self, root: Path, signer: UrlSigner, *, expires_s: int = 3600) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.signer = signer
        self.expires_s = expires_s

    # --- paths ----------------------------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The file for ``key``; raises InvalidKey when the key (or a symlink on its way) leaves the root."""
        validate_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey("the key points outside the media store", code="key_outside_store", field="key")
        return path

    def _stat_path(self, key: str, path: Path) -> BlobStat | None:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                head = fh.read(SNIFF_BYTES)
        except OSError:
            head = b""
        return BlobStat(
            key=key,
            size=st.st_size,
            etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"',
            modified_at=datetime.fromtimestamp(st.st_mtime, UTC),
            mime=guess_mime(key, head),
        )

    # --- writes ---------------------------------------------------------------------------------------------

    def _temp_for(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        # re-check: mkdir may have walked through a symlinked folder
        if not path.parent.resolve().is_relative_to(self.root):
            raise InvalidKey("the key points outside the media store", code="key_outside_store", field="key")
        return path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"

    def _commit(self, fh: IO[bytes], tmp: Path, path: Path) -> None:
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
        # fsync the folder so the rename itself survives a crash
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _put_sync(self, key: str, data: bytes) -> BlobStat:
        path = self.path_for(key)
        tmp = self._temp_for(path)
        fh = tmp.open("xb")
        try:
            fh.write(data)
            self._commit(fh, tmp, path)
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
        stat = self._stat_path(key, path)
        assert stat is not None
        return stat

    async def put(self, key: str, data: bytes, *, mime: str | None = None) -> BlobStat:
        return await asyncio.to_thread(self._put_sync, key, bytes(data))

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, mime: str | None = None, max_bytes: int | None = None
    ) -> BlobStat:
        path = self.path_for(key)
        tmp = await asyncio.to_thread(self._temp_for, path)
        fh = await asyncio.to_thread(tmp.open, "xb")
        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise BlobTooLarge(f"the file is larger than {max_bytes} bytes", field="file")
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(self._commit, fh, tmp, path)
        except BaseException:
            fh.close()
            await asyncio.to_thread(tmp.unlink, True)
            raise
        stat = await asyncio.to_thread(self._stat_path, key, path)
        assert stat is not None
        return stat

    # --- reads ----------------------------------------------------------------------------------------------

    def _read_sync(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return path.read_bytes() if path.is_file() else _missing(key)
        except FileNotFoundError:
            return _missing(key)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read_sync, key)

    async def open(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            fh = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(field="key") from None
        try:
            await asyncio.to_thread(fh.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await asyncio.to_thread(fh.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            fh.close()

    async def stat(self, key: str) -> BlobStat | None:
        return await asyncio.to_thread(self._stat_path, key, self.path_for(key))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete_sync, key)

    def _delete_sync(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        # prune folders the delete left empty, so media trees don't fill with empty days
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            with contextlib.suppress(OSError):
                parent.rmdir()
                parent = parent.parent
                continue
            break

    # --- listings -------------------------------------------------------------------------------------------

    def _list_sync(self, prefix: str, recursive: bool) -> builtins.list[BlobStat]:
        validate_prefix(prefix)
        folder_part, _, _name_part = prefix.rpartition("/")
        base = self.root / folder_part if folder_part else self.root
        base = base.resolve()
        if not base.is_relative_to(self.root) or not base.is_dir():
            return []
        out: list[BlobStat] = []
        walker = os.walk(base) if recursive else [(str(base), [], os.listdir(base))]
        for dirpath, dirnames, filenames in walker:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for filename in filenames:
                if filename.startswith("."):
                    continue  # temporary files of writes in progress
                path = Path(dirpath) / filename
                key = path.relative_to(base).as_posix()
                key = f"{folder_part}/{key}" if folder_part else key
                if not key.startswith(prefix) or path.is_symlink():
                    continue
                stat = self._stat_path(key, path)
                if stat is not None:
                    out.append(stat)
        return sorted(out, key=lambda s: s.key)

    async def list(self, prefix: str = "", *, recursive: bool = True) -> builtins.list[BlobStat]:
        return await asyncio.to_thread(self._list_sync, prefix, recursive)

    def _prefixes_sync(self, prefix: str) -> builtins.list[str]:
        validate_prefix(prefix)
        folder_part, _, name_part = prefix.rpartition("/")
        base = (self.root / folder_part).resolve() if folder_part else self.root
        if not base.is_relative_to(self.root) or not base.is_dir():
            return []
        lead = f"{folder_part}/" if folder_part else ""
        return sorted(
            f"{lead}{entry.name}/"
            for entry in base.iterdir()
            if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".")
            and entry.name.startswith(name_part)
        )

    async def list_prefixes(self, prefix: str = "") -> builtins.list[str]:
        return await asyncio.to_thread(self._prefixes_sync, prefix)

    # --- URLs -----------------------------------------------------------------------------------------------

    def url(self, key: str) -> str:
        return self.presign_get(key)

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        validate_key(key)
        url, _ = self.signer.sign(key, expires_s=expires_s or self.expires_s)
        return url

    def presign_put(self, key: str, *, mime: str, expires_s: int | None = None, max_bytes: int | None = None,
                    content_length: int | None = None) -> dict[str, object]:
        validate_key(key)
        if content_length is not None:
            max_bytes = content_length if max_bytes is None else min(max_bytes, content_length)
        url, exp = self.signer.sign(key, expires_s=expires_s or self.expires_s, method="PUT", mime=mime, max_bytes=max_bytes)
        return {"method": "PUT", "url": url, "headers": {"Content-Type": mime}, "expires_at": exp}

    async def aclose(self) -> None:
        return None


def _missing(key: str) -> bytes:
    raise BlobNotFound(field="key")
