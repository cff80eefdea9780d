"""Media routes: signed file serving at ``/media/{key}`` and the native ``/v1/assets`` API."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.convertors import Convertor, register_url_convertor

from genloom.core.paging import CURSOR_DESCRIPTION, CURSOR_PATTERN
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.identity.deps import NativeCaller
from genloom.media import service
from genloom.media.http import Unsatisfiable, http_date, not_modified, parse_range, range_applies
from genloom.media.schemas import AssetList, AssetRead, UploadRead
from genloom.runtime import Runtime
from genloom.storage.errors import BlobNotFound, InvalidKey
from genloom.storage.keys import KEY_PATTERN, MAX_KEY_LENGTH, validate_key
from genloom.storage.local import LocalBlobStore
from genloom.storage.signing import UrlSigner


class MediaKeyConvertor(Convertor[str]):
    """A key path, except the cineMind media API's own routes (``/media/tree``, ``/media/files``,
    ``/media/file-meta/…``), so they reach their router whatever the order routers are included in."""

    regex = r"(?!(?:tree|files)$|file-meta/).+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("mediakey", MediaKeyConvertor())
router = APIRouter()
MAX_CACHE_SECONDS = 3600


def _signer(runtime: Runtime) -> UrlSigner:
    return runtime.signer


def _checked_key(key: str) -> str:
    try:
        return validate_key(key)
    except InvalidKey as exc:
        exc.field = "key"
        raise


#: the parts of a signed URL (storage.signing): what they look like; only the server's own signature verifies
SignedExpiry = Annotated[str | None, Query(description="expiry, unix seconds",
                                           json_schema_extra={"pattern": r"^[0-9]{1,12}$"})]
Signature = Annotated[str | None, Query(description="HMAC-SHA256 signature (hex)",
                                        json_schema_extra={"pattern": r"^[0-9a-fA-F]{64}$"})]
#: the key as validate_key accepts it
MediaKey = Annotated[str, Path(json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_LENGTH})]


@router.get(
    "/media/{key:mediakey}",
    tags=["Media"],
    summary="Download a media file (signed URL)",
    response_class=Response,
    responses={200: {"content": {"image/png": {"example": "<PNG bytes>"}}},
               206: {"description": "Partial content", "headers": {"Content-Range": {"schema": {"type": "string"},
                     "example": "bytes 0-1023/48213"}}},
               304: {"description": "Not modified"}, 307: {"description": "Redirect to the S3 object"},
               403: {"description": "Bad or expired signature"}, 416: {"description": "Range not satisfiable"}},
)
async def get_media(
    key: MediaKey,
    request: Request,
    runtime: RuntimeDep,
    exp: SignedExpiry = None,
    sig: Signature = None,
) -> Response:
    key = _checked_key(key)
    _signer(runtime).verify(key, exp, sig)
    if not isinstance(runtime.blobs, LocalBlobStore):
        return RedirectResponse(runtime.blobs.presign_get(key), status_code=307)
    stat = await runtime.blobs.stat(key)
    if stat is None:
        raise BlobNotFound(field="key")
    max_age = max(0, min(MAX_CACHE_SECONDS, int(exp or 0) - int(time.time())))
    headers = {
        "ETag": stat.etag,
        "Last-Modified": http_date(stat.modified_at),
        "Accept-Ranges": "bytes",
        "Cache-Control": f"private, max-age={max_age}",
        "X-Content-Type-Options": "nosniff",
    }
    if not_modified(stat.etag, stat.modified_at, if_none_match=request.headers.get("if-none-match"),
                    if_modified_since=request.headers.get("if-modified-since")):
        return Response(status_code=304, headers=headers)
    mime = stat.mime or "application/octet-stream"
    byte_range = None
    if range_applies(stat.etag, stat.modified_at, request.headers.get("if-range")):
        try:
            byte_range = parse_range(request.headers.get("range"), stat.size)
        except Unsatisfiable:
            body = {"code": "range_not_satisfiable", "message": "the requested range is outside the file",
                    "field": "Range"}
            return JSONResponse(body, status_code=416, headers={**headers, "Content-Range": f"bytes */{stat.size}"},
                                media_type="application/problem+json")
    status, start, end = 200, 0, stat.size - 1
    if byte_range is not None:
        status, start, end = 206, byte_range.start, byte_range.end
        headers["Content-Range"] = f"bytes {start}-{end}/{stat.size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    if request.method == "HEAD" or stat.size == 0:
        return Response(status_code=status, headers=headers, media_type=mime)
    return StreamingResponse(runtime.blobs.open(key, start=start, end=end), status_code=status, headers=headers,
                             media_type=mime)


# HEAD answers the same headers without a body (kept out of the schema: one operation per path and method).
router.add_api_route("/media/{key:mediakey}", get_media, methods=["HEAD"], include_in_schema=False)


@router.put("/media/{key:mediakey}", tags=["Media"], summary="Upload a file to a presigned local URL",
            response_model=UploadRead,
            responses={200: {"content": {"application/json": {"example": {
                           "key": "images/2026/12/03/0193a1b2-b081-7c23-9e4f-5a6b7c8d9e0f.png", "size": 48213,
                           "etag": '"5d41402abc4b2a76b9719d911017c592"'}}}},
                       403: {"description": "Bad or expired signature"},
                       413: {"description": "Larger than the signed size limit"}},
            openapi_extra={"requestBody": {"content": {"image/png": {"example": "<PNG bytes>"}}, "required": True}})
async def put_media(
    key: MediaKey,
    request: Request,
    runtime: RuntimeDep,
    exp: SignedExpiry = None,
    sig: Signature = None,
    max: int | None = Query(default=None, ge=1),  # noqa: A002 - the query parameter's name
) -> JSONResponse:
    key = _checked_key(key)
    mime = request.headers.get("content-type", "")
    _signer(runtime).verify(key, exp, sig, method="PUT", mime=mime, max_bytes=max)
    if not isinstance(runtime.blobs, LocalBlobStore):
        raise BlobNotFound("uploads go straight to the bucket on this deployment", field="key")
    limit = min(max or runtime.settings.max_upload_bytes, runtime.settings.max_upload_bytes)
    stat = await runtime.blobs.put_stream(key, request.stream(), mime=mime, max_bytes=limit)
    return JSONResponse({"key": stat.key, "size": stat.size, "etag": stat.etag}, headers={"ETag": stat.etag})


@router.get("/v1/assets", tags=["Media"], summary="List your stored media", response_model=AssetList)
async def list_assets(
    session: ReadSessionDep,
    runtime: RuntimeDep,
    caller: NativeCaller,
    kind: str | None = Query(default=None, description="original | image | thumb | audio | video | analysis",
                             json_schema_extra={"enum": sorted(service.ASSET_KINDS)}),
    job_id: str | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(default=None, description=CURSOR_DESCRIPTION, json_schema_extra={"pattern": CURSOR_PATTERN}),
) -> dict[str, Any]:
    rows, next_cursor = await service.list_assets(session, caller, kind=kind, job_id=job_id, limit=limit,
                                                  cursor=cursor)
    return {"items": [service.asset_dict(a, runtime.blobs) for a in rows], "next_cursor": next_cursor}


@router.get("/v1/assets/{asset_id}", tags=["Media"], summary="Get one stored media file", response_model=AssetRead)
async def get_asset(asset_id: str, session: ReadSessionDep, runtime: RuntimeDep, caller: NativeCaller) -> dict[str, Any]:
    asset = await service.get_asset_or_raise(session, caller, asset_id)
    return service.asset_dict(asset, runtime.blobs)


@router.delete("/v1/assets/{asset_id}", tags=["Media"], status_code=204, response_class=Response,
               summary="Delete one of your files (and its thumbnails)",
               responses={204: {"description": "Deleted"}, 404: {"description": "Not found (or not yours)",
                          "content": {"application/problem+json": {"example": {
                              "code": "asset_not_found", "message": "Asset not found.", "status": 404}}}}})
async def delete_asset(asset_id: str, session: SessionDep, runtime: RuntimeDep, caller: NativeCaller) -> Response:
    await service.delete_asset(session, runtime.blobs, caller, asset_id)
    return Response(status_code=204)
