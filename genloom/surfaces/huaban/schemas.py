"""HuaBan request and response shapes (camelCase JSON), each with the example the OpenAPI document shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from genloom.storage.keys import KEY_PATTERN
from genloom.surfaces.huaban import examples as ex

#: the schema says what the server checks: a title with a visible character, a type/subtype media type, and a
#: storage key's characters (the key layout itself and traversal are still checked by the server)
NOT_BLANK = r"\S"
MIME = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$"
KEY = r"^[A-Za-z0-9_=+@-][A-Za-z0-9._=+@/-]*$"


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=True)


def _example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True,
                      json_schema_extra={"example": value})


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.error("artwork_not_found", "Artwork not found.", "id")})

    error: ErrorBody


# --- init -------------------------------------------------------------------------------------------------


class InitRequest(Camel):
    model_config = _example(ex.INIT_REQUEST)

    client_id: str | None = Field(default=None, max_length=64)
    #: short scalar fields (platform, model, app version…); no field name may hold a NUL character, as nothing
    #: the server reads may (the schema says so: propertyNames)
    device: dict[str, str | int | float | bool | None] | None = Field(
        default=None, json_schema_extra={"propertyNames": {"pattern": "^[^\\u0000]*$"}})


class UploadPolicyOut(Camel):
    max_image_bytes: int
    max_audio_bytes: int
    max_video_bytes: int
    allowed_mimes: dict[str, list[str]]
    presign_expires_s: int


class InitResponse(Camel):
    model_config = _example(ex.INIT_RESPONSE)

    client_id: str
    created_at: str
    upload_policy: UploadPolicyOut
    limits: dict[str, Any]


# --- uploads ----------------------------------------------------------------------------------------------


class PresignRequest(Camel):
    model_config = _example(ex.PRESIGN_REQUEST)

    type: Literal["original", "audio", "video"]
    mime: str = Field(min_length=3, max_length=100, pattern=MIME)
    size: int = Field(ge=1, le=10 * 1024**3)
    artwork_id: str | None = Field(default=None, min_length=1, max_length=36)


class PresignResponse(Camel):
    model_config = _example(ex.PRESIGN_RESPONSE)

    key: str
    url: str
    method: str
    headers: dict[str, str]
    expires_at: str
    artwork_id: str
    version: int


class CommitRequest(Camel):
    model_config = _example(ex.COMMIT_REQUEST)

    # the document states every rule of a key (segments, no '.'/'..', lengths); the server reports a key that
    # breaks the layout rules as invalid_key, one outside the alphabet as a validation error
    key: str = Field(min_length=1, max_length=512, pattern=KEY, json_schema_extra={"pattern": KEY_PATTERN})
    etag: str | None = Field(default=None, max_length=200)
    mime: str = Field(min_length=3, max_length=100, pattern=MIME)
    size: int = Field(ge=1)


class MediaAssetOut(Camel):
    model_config = _example(ex.MEDIA_ASSET)

    id: str
    key: str
    type: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    sha256: str
    created_at: str
    artwork_id: str | None = None
    url: str


class StoredVideo(Camel):
    key: str
    url: str
    size: int
    last_modified: str


class ImagesResponse(Camel):
    model_config = _example(ex.IMAGES)

    items: list[StoredVideo]


# --- artworks ---------------------------------------------------------------------------------------------


class ArtworkCreate(Camel):
    model_config = _example(ex.ARTWORK_CREATE)

    title: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    description: str | None = Field(default=None, max_length=2000)
    cover_asset_id: str = Field(min_length=1, max_length=36)
    audio_asset_id: str | None = Field(default=None, min_length=1, max_length=36)
    transcript: str | None = Field(default=None, max_length=5000)


class ArtworkPatch(Camel):
    model_config = _example(ex.ARTWORK_PATCH)

    title: str | None = Field(default=None, min_length=1, max_length=200, pattern=NOT_BLANK)
    description: str | None = Field(default=None, max_length=2000)
    transcript: str | None = Field(default=None, max_length=5000)


class LatestJobOut(Camel):
    job_id: str
    status: str
    phase: str
    progress: int


class AnalysisStatus(Camel):
    status: str
    summary: str | None = None
    abilities: dict[str, int] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class ArtworkOut(Camel):
    model_config = _example(ex.ARTWORK_OUT)

    id: str
    title: str | None
    description: str | None
    status: str
    cover_url: str | None
    thumb_url: str | None
    audio_url: str | None
    video_url: str | None
    poster_url: str | None
    transcript: str | None
    transcript_source: str | None
    story: str | None
    analysis: AnalysisStatus
    latest_job: LatestJobOut | None
    created_at: str
    updated_at: str


class GalleryItem(Camel):
    id: str
    title: str | None
    cover_url: str | None
    thumb_url: str | None
    video_url: str | None
    status: str
    created_at: str


class GalleryResponse(Camel):
    model_config = _example(ex.GALLERY)

    items: list[GalleryItem]
    next_cursor: str | None


# --- generation -------------------------------------------------------------------------------------------


class GenerationCreate(Camel):
    model_config = _example(ex.GENERATION_CREATE)

    artwork_id: str = Field(min_length=1, max_length=36)
    text: str | None = Field(default=None, max_length=5000)


class GenerationAccepted(Camel):
    model_config = _example(ex.GENERATION_ACCEPTED)

    job_id: str
    status: str
    phase: str


class JobError(Camel):
    code: str
    message: str


class GenerationOut(Camel):
    model_config = _example(ex.GENERATION)

    job_id: str
    artwork_id: str
    status: str
    phase: str
    progress: int
    error: JobError | None
    video_url: str | None
    poster_url: str | None
    transcript: str | None
    story: str | None


# --- analyses and growth ----------------------------------------------------------------------------------


class Box(Camel):
    label: str
    x: float
    y: float
    w: float
    h: float
    score: float | None = None


class AnalysisOut(Camel):
    model_config = _example(ex.ANALYSIS)

    artwork_id: str
    status: str
    summary: str | None
    tags: list[str]
    boxes: list[Box]
    scores: dict[str, Any]
    abilities: dict[str, int]
    provider: str | None
    created_at: str | None
    error: JobError | None = None


class ProfileIn(Camel):
    model_config = _example(ex.PROFILE_IN)

    nickname: str | None = Field(default=None, min_length=1, max_length=40)
    age: int | None = Field(default=None, ge=2, le=14)
    description: str | None = Field(default=None, max_length=500)
    avatar_asset_id: str | None = Field(default=None, min_length=1, max_length=36)


class ProfileOut(Camel):
    model_config = _example(ex.PROFILE_OUT)

    nickname: str | None
    age: int | None
    description: str | None
    avatar_asset_id: str | None
    avatar_url: str | None
    created_at: str | None
    updated_at: str | None


class SeriesEntry(Camel):
    from_: str = Field(alias="from")
    to: str
    artwork_count: int
    abilities: dict[str, float | None]


class ReportOut(Camel):
    model_config = _example(ex.REPORT)

    period: str
    from_: str = Field(alias="from")
    to: str
    artwork_count: int
    abilities: dict[str, float | None]
    trend: dict[str, float | None]
    highlights: list[str]
    top_tags: list[str]
    series: list[SeriesEntry]

