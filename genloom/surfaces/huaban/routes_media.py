"""HuaBan: ``POST /init``, ``POST /upload/presign``, ``POST /media/commit``, ``POST /media/upload`` and the
frontend's ``GET /images`` (the caller's stored videos)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.datastructures import UploadFile

from genloom.artworks import clients as huaban_clients
from genloom.artworks import uploads
from genloom.artworks.errors import TooLarge
from genloom.artworks.policy import ALLOWED_MIMES, UPLOAD_TYPES, UploadPolicy
from genloom.core.errors import InvalidInput
from genloom.deps import RuntimeDep, SessionDep
from genloom.media.models import Asset
from genloom.surfaces.huaban import examples as ex
from genloom.surfaces.huaban import schemas
from genloom.surfaces.huaban.deps import (
    Client,
    CommitClient,
    PresignClient,
    UploadClient,
    check_origin,
    client_id_header,
    enforce,
    parse_client_id,
    rules_of,
)
from genloom.surfaces.huaban.errors import CLIENT_ID_ERRORS, responses
from genloom.surfaces.huaban.views import artwork_of_key, iso, media_asset, unix_iso

router = APIRouter(tags=["HuaBan"])
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and the small fields around the file


def policy_out(policy: UploadPolicy) -> dict[str, Any]:
    return {"maxImageBytes": policy.max_bytes["original"], "maxAudioBytes": policy.max_bytes["audio"],
            "maxVideoBytes": policy.max_bytes["video"],
            "allowedMimes": {t: list(ALLOWED_MIMES[t]) for t in UPLOAD_TYPES},
            "presignExpiresS": policy.presign_expires_s}


@router.post("/init", summary="Register this install's client id (issued when none is sent)",
             response_model=schemas.InitResponse,
             # the one HuaBan route a caller without a client id may use: it is where one is issued
             openapi_extra={"security": [{"ClientId": []}, {}]},
             responses=responses(*CLIENT_ID_ERRORS[:1], *CLIENT_ID_ERRORS[2:]))
async def init(request: Request, response: Response, runtime: RuntimeDep,
               header: Annotated[str | None, Depends(client_id_header)],
               body: schemas.InitRequest | None = None) -> dict[str, Any]:
    check_origin(request, runtime)
    sent = header if header and header.strip() else (body.client_id if body else None)
    client_id = parse_client_id(sent) if sent else None
    registered = await huaban_clients.register(
        runtime.db, runtime.clients_seen, client_id=client_id, device=body.device if body else None,
        user_agent=request.headers.get("user-agent"))
    await enforce(runtime, response, "default", registered.client_id)
    rules = rules_of(runtime)
    policy = UploadPolicy.from_settings(runtime.settings)
    return {"clientId": registered.client_id, "createdAt": iso(registered.created_at),
            "uploadPolicy": policy_out(policy),
            "limits": {"rateLimits": {name: {"limit": r.limit, "periodS": r.period_s} for name, r in rules.items()},
                       "galleryPageMax": 50, "videoDurationS": runtime.settings.huaban_video_duration_s,
                       "transcriptMaxChars": 5000}}


@router.post("/upload/presign", summary="Reserve a key and get a presigned upload URL",
             response_model=schemas.PresignResponse,
             responses=responses(
                 (404, "artwork_not_found", "Artwork not found.", "artworkId"),
                 (413, "too_large", "original files may be at most 20971520 bytes", "size"),
                 (415, "unsupported_mime", "text/plain is not accepted for original", "mime"),
                 *CLIENT_ID_ERRORS))
async def presign(body: schemas.PresignRequest, session: SessionDep, runtime: RuntimeDep,
                  caller: PresignClient) -> dict[str, Any]:
    signed = await uploads.presign(session, runtime.blobs, UploadPolicy.from_settings(runtime.settings), caller,
                                   upload_type=body.type, mime=body.mime, size=body.size,
                                   artwork_id=body.artwork_id)
    return {"key": signed.key, "url": signed.url, "method": signed.method, "headers": signed.headers,
            "expiresAt": unix_iso(signed.expires_at), "artworkId": signed.artwork_id, "version": signed.version}


@router.post("/media/commit", summary="Verify an uploaded object and record it as a media asset",
             status_code=201, response_model=schemas.MediaAssetOut,
             responses={200: {"description": "Committed before: the same asset",
                              "content": {"application/json": {"example": ex.MEDIA_ASSET}}},
                        **responses(
                 (400, "mime_mismatch", "the file's bytes are not image/png", "mime"),
                 (400, "size_mismatch", "the stored file has 1200 bytes, 183422 were declared", "size"),
                 (400, "invalid_key", "the key contains an empty, '.' or '..' segment", "key"),
                 (404, "upload_not_found", "no upload was presigned for this key", "key"),
                 (404, "object_missing", "nothing was uploaded under this key", "key"),
                 *CLIENT_ID_ERRORS)})
async def commit(body: schemas.CommitRequest, session: SessionDep, runtime: RuntimeDep,
                 caller: CommitClient) -> JSONResponse:
    asset, created = await uploads.commit(session, runtime.blobs, caller, key=body.key, mime=body.mime,
                                          size=body.size, etag=body.etag)
    out = media_asset(asset, runtime.blobs, await artwork_of_key(session, asset.key))
    await session.commit()
    return JSONResponse(out, status_code=201 if created else 200)


async def _capped(request: Request, cap: int) -> AsyncIterator[bytes]:
    """The request body, refused as soon as it grows past ``cap`` (not after it was all read)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > cap:
            raise TooLarge(f"the upload is larger than {cap} bytes", field="file")
        yield chunk


@router.post("/media/upload", summary="Upload a file through the API (for clients that cannot PUT to a bucket)",
             status_code=201, response_model=schemas.MediaAssetOut,
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
                 "schema": {"type": "object", "required": ["file", "type"], "additionalProperties": False, "properties": {
                     "file": {"type": "string", "format": "binary"},
                     "type": {"type": "string", "enum": list(UPLOAD_TYPES)},
                     "artworkId": {"type": "string"}}},
                 "example": {"type": "original", "file": "<PNG bytes>"}}}}},
             responses=responses(
                 (400, "mime_mismatch", "the file's bytes are not image/png", "mime"),
                 (413, "too_large", "original files may be at most 20971520 bytes", "file"),
                 (415, "unsupported_mime", "text/plain is not accepted for original", "mime"),
                 *CLIENT_ID_ERRORS))
async def upload(request: Request, session: SessionDep, runtime: RuntimeDep, caller: UploadClient) -> JSONResponse:
    policy = UploadPolicy.from_settings(runtime.settings)
    cap = max(policy.max_bytes.values()) + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"the upload is larger than {cap} bytes", field="file")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send multipart/form-data with a file and its type", code="validation_error",
                           field="file")
    parser_body = _capped(request, cap)

    async def receive_capped() -> dict[str, Any]:
        try:
            chunk = await parser_body.__anext__()
            return {"type": "http.request", "body": chunk, "more_body": True}
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}

    capped = Request(request.scope, receive_capped)
    form = await capped.form(max_files=1, max_fields=5)
    try:
        file = form.get("file")
        kind = form.get("type")
        artwork_id = form.get("artworkId")
        if not isinstance(file, UploadFile):
            raise InvalidInput("file is required", code="validation_error", field="file")
        if kind not in UPLOAD_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(UPLOAD_TYPES)}", code="validation_error",
                               field="type")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await file.read(64 * 1024):
                yield chunk

        asset = await uploads.upload(session, runtime.blobs, policy, caller, upload_type=kind,  # type: ignore[arg-type]
                                     mime=file.content_type or "", chunks=chunks(),
                                     artwork_id=artwork_id if isinstance(artwork_id, str) and artwork_id else None)
        out = media_asset(asset, runtime.blobs, await artwork_of_key(session, asset.key))
    finally:
        await form.close()
    await session.commit()
    return JSONResponse(out, status_code=201)


@router.get("/images", summary="The caller's stored videos (frontend compatibility)",
            response_model=schemas.ImagesResponse, responses=responses(*CLIENT_ID_ERRORS))
async def images(session: SessionDep, runtime: RuntimeDep, caller: Client,
                 limit: int = Query(default=20, ge=1, le=100)) -> dict[str, Any]:
    prefix = f"clients/{caller.client_id}/"
    rows = (await session.execute(
        select(Asset).where(Asset.owner_id == caller.owner_id, Asset.kind == "video", Asset.state == "committed",
                            Asset.key.startswith(prefix, autoescape=True))
        .order_by(Asset.id.desc()).limit(limit))).scalars()
    return {"items": [{"key": a.key, "url": runtime.blobs.url(a.key), "size": a.size,
                       "lastModified": iso(a.created_at)} for a in rows]}

