"""HuaBan: ``/artworks`` (create, read, edit, delete) and ``GET /gallery``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from genloom.artworks import service as artworks
from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.surfaces.huaban import schemas
from genloom.surfaces.huaban.deps import Client
from genloom.surfaces.huaban.errors import CLIENT_ID_ERRORS, responses
from genloom.surfaces.huaban.views import artworks_out, gallery_item

router = APIRouter(tags=["HuaBan"])
NOT_FOUND = (404, "artwork_not_found", "Artwork not found.", "id")


@router.post("/artworks", summary="Create an artwork from a committed drawing (and recording)", status_code=201,
             response_model=schemas.ArtworkOut,
             responses=responses((400, "invalid_media", "asset … is a audio file, not original", "coverAssetId"),
                                 (404, "asset_not_found", "asset … not found", "coverAssetId"), *CLIENT_ID_ERRORS))
async def create(body: schemas.ArtworkCreate, session: SessionDep, runtime: RuntimeDep, caller: Client) -> dict[str, Any]:
    row = await artworks.create_artwork(session, caller, title=body.title, description=body.description,
                                        cover_asset_id=body.cover_asset_id, audio_asset_id=body.audio_asset_id,
                                        transcript=body.transcript)
    return (await artworks_out(session, runtime.blobs, [row]))[0]


@router.get("/artworks/{artwork_id}", summary="An artwork with its media, story, analysis and latest job",
            response_model=schemas.ArtworkOut, responses=responses(NOT_FOUND, *CLIENT_ID_ERRORS))
async def read(artwork_id: str, session: ReadSessionDep, runtime: RuntimeDep, caller: Client) -> dict[str, Any]:
    row = await artworks.get_artwork(session, caller, artwork_id)
    return (await artworks_out(session, runtime.blobs, [row]))[0]


@router.patch("/artworks/{artwork_id}", summary="Edit title, description or the transcript (a parent's correction)",
              response_model=schemas.ArtworkOut, responses=responses(NOT_FOUND, *CLIENT_ID_ERRORS))
async def edit(artwork_id: str, body: schemas.ArtworkPatch, session: SessionDep, runtime: RuntimeDep,
               caller: Client) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    row = await artworks.update_artwork(session, caller, artwork_id, changes=changes)
    return (await artworks_out(session, runtime.blobs, [row]))[0]


@router.delete("/artworks/{artwork_id}", summary="Delete an artwork and all its files", status_code=204,
               response_class=Response,
               responses={204: {"description": "Deleted, with every object under its key prefix"},
                          **responses(NOT_FOUND, *CLIENT_ID_ERRORS)})
async def remove(artwork_id: str, session: SessionDep, runtime: RuntimeDep, caller: Client) -> Response:
    await artworks.delete_artwork(session, runtime, caller, artwork_id)
    return Response(status_code=204)


@router.get("/gallery", summary="The caller's artworks, newest first", response_model=schemas.GalleryResponse,
            responses=responses((400, "invalid_cursor", "the cursor is not valid", "cursor"), *CLIENT_ID_ERRORS))
async def gallery(session: ReadSessionDep, runtime: RuntimeDep, caller: Client,
                  cursor: str | None = Query(default=None, max_length=200),
                  limit: int = Query(default=20, ge=1, le=50)) -> dict[str, Any]:
    rows, next_cursor = await artworks.gallery(session, caller, limit=limit, cursor=cursor)
    return {"items": [gallery_item(a) for a in await artworks_out(session, runtime.blobs, rows)],
            "nextCursor": next_cursor}
