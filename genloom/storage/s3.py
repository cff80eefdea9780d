"""Media in an S3-compatible bucket (AWS, MinIO, Sealos, moto…), kept private: clients get presigned URLs.

boto3 is synchronous, so every call runs in a thread (``asyncio.to_thread``) and never blocks the event loop.
``settings.s3_prefix`` is prepended to every object name, so several deployments can share one bucket.
"""

from __future__ import annotations

import asyncio
import builtins
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from genloom.core.settings import Settings
from genloom.storage.base import BlobStat
from genloom.storage.errors import BlobNotFound, BlobTooLarge, StorageUnavailable
from genloom.storage.keys import validate_key, validate_prefix
from genloom.storage.mime import OCTET_STREAM

CHUNK_SIZE = 64 * 1024  # bytes per read when streaming
SPOOL_BYTES = 8 * 1024 * 1024  # streamed uploads stay in memory up to this size, then spill to disk
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3BlobStore:
    name = "s3"

    def __init__(self, settings: Settings, *, client: Any | None = None) -> None:
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/") + "/" if settings.s3_prefix.strip("/") else ""
        self.expires_s = settings.presign_expires_s
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.s3_force_path_style else "auto"},
            connect_timeout=settings.provider_connect_timeout,
            read_timeout=settings.provider_read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self.client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=config,
        )

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _key(self, name: str) -> str:
        return name[len(self.prefix):]

    async def _call(self, method: str, **params: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, method), **params)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobNotFound(field="key") from None
            raise StorageUnavailable(f"S3 {method} failed: {_code(exc) or 'error'}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 {method} failed: {type(exc).__name__}") from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (development and tests; production buckets are provisioned)."""
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except (BlobNotFound, StorageUnavailable):
            await self._call("create_bucket", Bucket=self.bucket)

    # --- writes ---------------------------------------------------------------------------------------------

    async def put(self, key: str, data: bytes, *, mime: str | None = None) -> BlobStat:
        name = self._name(key)
        response = await self._call(
            "put_object", Bucket=self.bucket, Key=name, Body=bytes(data), ContentType=mime or OCTET_STREAM
        )
        return BlobStat(key=key, size=len(data), etag=str(response["ETag"]), modified_at=datetime.now(UTC), mime=mime)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, mime: str | None = None, max_bytes: int | None = None
    ) -> BlobStat:
        name = self._name(key)
        # Spool first: the size limit is checked before anything reaches the bucket.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            written = 0
            async for chunk in chunks:
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise BlobTooLarge(f"the file is larger than {max_bytes} bytes", field="file")
                await asyncio.to_thread(spool.write, chunk)
            await asyncio.to_thread(spool.seek, 0)
            await self._call(
                "upload_fileobj", Fileobj=spool, Bucket=self.bucket, Key=name,
                ExtraArgs={"ContentType": mime or OCTET_STREAM},
            )
        stat = await self.stat(key)
        if stat is None:
            raise StorageUnavailable("the uploaded object is not visible")
        return stat

    # --- reads ----------------------------------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        response = await self._call("get_object", Bucket=self.bucket, Key=self._name(key))
        body = response["Body"]
        try:
            data: bytes = await asyncio.to_thread(body.read)
        finally:
            body.close()
        return data

    async def open(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = await self._call("get_object", **params)
        body = response["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, CHUNK_SIZE)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def stat(self, key: str) -> BlobStat | None:
        try:
            head = await self._call("head_object", Bucket=self.bucket, Key=self._name(key))
        except BlobNotFound:
            return None
        return BlobStat(
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]),
            modified_at=head["LastModified"].astimezone(UTC),
            mime=head.get("ContentType"),
        )

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._name(key))

    # --- listings -------------------------------------------------------------------------------------------

    async def _pages(self, prefix: str, delimiter: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + validate_prefix(prefix)}
        if delimiter:
            params["Delimiter"] = delimiter

        def collect() -> list[dict[str, Any]]:
            return list(self.client.get_paginator("list_objects_v2").paginate(**params))

        try:
            return await asyncio.to_thread(collect)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("S3 listing failed") from exc

    async def list(self, prefix: str = "", *, recursive: bool = True) -> builtins.list[BlobStat]:
        out: list[BlobStat] = []
        for page in await self._pages(prefix, None if recursive else "/"):
            for item in page.get("Contents", []):
                out.append(BlobStat(
                    key=self._key(item["Key"]), size=int(item["Size"]), etag=str(item["ETag"]),
                    modified_at=item["LastModified"].astimezone(UTC),
                ))
        return sorted(out, key=lambda s: s.key)

    async def list_prefixes(self, prefix: str = "") -> builtins.list[str]:
        found: set[str] = set()
        for page in await self._pages(prefix, "/"):
            found.update(self._key(p["Prefix"]) for p in page.get("CommonPrefixes", []))
        return sorted(found)

    # --- URLs -----------------------------------------------------------------------------------------------

    def url(self, key: str) -> str:
        return self.presign_get(key)

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._name(key)}, ExpiresIn=expires_s or self.expires_s
        )
        return url

    def presign_put(self, key: str, *, mime: str, expires_s: int | None = None, max_bytes: int | None = None,
                    content_length: int | None = None) -> dict[str, object]:
        # A presigned PUT cannot cap the size, only fix it: with content_length the Content-Length header is
        # part of the signature, so S3 refuses a body of any other length. Commit steps re-check the size.
        expires = expires_s or self.expires_s
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key), "ContentType": mime}
        if content_length is not None:
            params["ContentLength"] = content_length
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        exp = int(datetime.now(UTC).timestamp()) + expires
        return {"method": "PUT", "url": url, "headers": {"Content-Type": mime}, "expires_at": exp}

    async def aclose(self) -> None:
        await asyncio.to_thread(self.client.close)
