"""HuaBan: ``/ai/analyses/{artworkId}`` and ``/grow/profile``, ``/grow/report``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from genloom.deps import ReadSessionDep, RuntimeDep, SessionDep
from genloom.growth import analysis, profiles, reports
from genloom.growth.models import Profile
from genloom.media.models import Asset
from genloom.storage.base import BlobStore
from genloom.surfaces.huaban import schemas
from genloom.surfaces.huaban.deps import Client
from genloom.surfaces.huaban.errors import CLIENT_ID_ERRORS, responses
from genloom.surfaces.huaban.views import analysis_out, iso

router = APIRouter(tags=["HuaBan"])
NOT_FOUND = (404, "artwork_not_found", "Artwork not found.", "artworkId")


@router.get("/ai/analyses/{artwork_id}", summary="The AI analysis of an artwork (abilities, tags, boxes)",
            response_model=schemas.AnalysisOut, responses=responses(NOT_FOUND, *CLIENT_ID_ERRORS))
async def read_analysis(artwork_id: str, session: ReadSessionDep, caller: Client) -> dict[str, Any]:
    return analysis_out(await analysis.get_analysis(session, caller, artwork_id))


@router.post("/ai/analyses/{artwork_id}", summary="Run the analysis again", status_code=202,
             response_model=schemas.AnalysisOut, responses=responses(NOT_FOUND, *CLIENT_ID_ERRORS))
async def rerun_analysis(artwork_id: str, session: SessionDep, runtime: RuntimeDep, caller: Client) -> JSONResponse:
    view = await analysis.request_analysis(session, runtime, caller, artwork_id)
    await session.commit()
    return JSONResponse(analysis_out(view), status_code=202)


async def _profile_out(session: Any, blobs: BlobStore, row: Profile | None) -> dict[str, Any]:
    if row is None:
        return {"nickname": None, "age": None, "description": None, "avatarAssetId": None, "avatarUrl": None,
                "createdAt": None, "updatedAt": None}
    avatar = await session.get(Asset, row.avatar_asset_id) if row.avatar_asset_id else None
    return {"nickname": row.nickname, "age": row.age, "description": row.description,
            "avatarAssetId": row.avatar_asset_id, "avatarUrl": blobs.url(avatar.key) if avatar else None,
            "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at)}


@router.get("/grow/profile", summary="The child's profile (empty fields until one is saved)",
            response_model=schemas.ProfileOut, responses=responses(*CLIENT_ID_ERRORS))
async def read_profile(session: ReadSessionDep, runtime: RuntimeDep, caller: Client) -> dict[str, Any]:
    return await _profile_out(session, runtime.blobs, await profiles.get_profile(session, caller))


@router.post("/grow/profile", summary="Create or update the child's profile (fields not sent stay as they are)",
             response_model=schemas.ProfileOut,
             responses=responses((400, "validation_error", "age: Input should be less than or equal to 14", "age"),
                                 (404, "asset_not_found", "asset … not found", "avatarAssetId"), *CLIENT_ID_ERRORS))
async def save_profile(body: schemas.ProfileIn, session: SessionDep, runtime: RuntimeDep,
                       caller: Client) -> dict[str, Any]:
    row = await profiles.save_profile(session, caller, body.model_dump(exclude_unset=True))
    return await _profile_out(session, runtime.blobs, row)


@router.get("/grow/report", summary="Weekly or monthly growth report aggregated from the analyses",
            response_model=schemas.ReportOut, responses=responses(*CLIENT_ID_ERRORS))
async def report(session: ReadSessionDep, caller: Client, period: Literal["week", "month"] = Query(default="week"),
                 range_: int = Query(default=1, ge=1, le=reports.MAX_RANGE, alias="range")) -> dict[str, Any]:
    built = await reports.build_report(session, caller, period=period, count=range_)
    return {"period": built.period, "from": iso(built.start), "to": iso(built.end),
            "artworkCount": built.artwork_count, "abilities": built.abilities, "trend": built.trend,
            "highlights": built.highlights, "topTags": built.top_tags,
            "series": [{"from": iso(b.start), "to": iso(b.end), "artworkCount": b.artwork_count,
                        "abilities": b.abilities} for b in built.series]}
