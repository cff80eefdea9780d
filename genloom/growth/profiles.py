"""The child's profile: one per owner, created or updated by ``POST /grow/profile`` (fields not sent stay)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.principal import Principal
from genloom.growth.models import Profile
from genloom.media.errors import AssetNotFound
from genloom.media.models import Asset

MIN_AGE, MAX_AGE = 2, 14
FIELDS = ("nickname", "age", "description", "avatar_asset_id")


async def get_profile(session: AsyncSession, principal: Principal) -> Profile | None:
    row: Profile | None = await session.get(Profile, principal.owner_id)
    return row


async def save_profile(session: AsyncSession, principal: Principal, changes: dict[str, Any]) -> Profile:
    age = changes.get("age")
    if age is not None and not MIN_AGE <= int(age) <= MAX_AGE:
        raise InvalidInput(f"age must be between {MIN_AGE} and {MAX_AGE}", field="age")
    avatar = changes.get("avatar_asset_id")
    if avatar:
        kind = (await session.execute(
            select(Asset.kind).where(Asset.id == avatar, Asset.owner_id == principal.owner_id,
                                     Asset.state == "committed")
        )).scalar_one_or_none()
        if kind is None:
            raise AssetNotFound(f"asset {avatar} not found", field="avatarAssetId")
        if kind not in ("original", "image", "thumb"):
            raise InvalidInput(f"asset {avatar} is not a picture", code="invalid_media", field="avatarAssetId")
    row = await get_profile(session, principal)
    now = utc_now()
    if row is None:
        row = Profile(owner_id=principal.owner_id, created_at=now)
        session.add(row)
    for name in FIELDS:
        if name in changes:
            setattr(row, name, changes[name])
    row.updated_at = now
    await session.flush()
    return row
