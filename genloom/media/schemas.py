"""Response shapes of the native media API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

ASSET_EXAMPLE: dict[str, Any] = {
    "id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "kind": "image",
    "mime": "image/png",
    "size": 183422,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "width": 1024,
    "height": 1024,
    "url": "/media/jobs/2026/11/23/0193a1b2-0000-7000-8000-000000000000/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b.png"
    "?exp=1795000000&sig=5d41402abc4b2a76b9719d911017c592",
    "created_at": "2026-11-23T12:00:00Z",
    "job_id": "0193a1b2-0000-7000-8000-000000000000",
    "derived_from": None,
}


class AssetRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ASSET_EXAMPLE})

    id: str
    #: original | image | thumb | audio | video | analysis
    kind: str
    mime: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    #: a signed URL valid for ``PRESIGN_EXPIRES_S``; read the asset again for a fresh one
    url: str
    created_at: str | None
    job_id: str | None = None
    derived_from: str | None = None


class AssetList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [ASSET_EXAMPLE], "next_cursor": None}})

    items: list[AssetRead]
    next_cursor: str | None


class UploadRead(BaseModel):
    key: str
    size: int
    etag: str
