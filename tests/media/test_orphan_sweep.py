"""The sweep of objects no asset names (a process killed between storing bytes and committing rows), on the local
store and on S3 (moto's server over HTTP), on both databases: only old objects under genloom's own prefixes go."""

from __future__ import annotations

from datetime import timedelta

import pytest

from genloom.core.db import utc_now
from genloom.core.settings import Settings
from genloom.media import service as media_service
from genloom.media.sweep import safety_age, sweep_orphans
from genloom.runtime import Runtime
from genloom.storage.keys import cinemind_image_key, cinemind_thumb_key, huaban_key, job_asset_key
from tests.conftest import make_settings
from tests.media.factories import png

S3_FIELDS = {"storage", "s3_endpoint", "s3_bucket", "s3_force_path_style", "s3_access_key_id",
             "s3_secret_access_key", "s3_region"}


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The suite's settings, on the local store or on S3 (the shared ``runtime`` fixture builds from them)."""
    if request.param == "s3":
        s3: Settings = request.getfixturevalue("s3_settings")
        return settings.model_copy(update=s3.model_dump(include=S3_FIELDS))
    return settings


async def test_only_old_objects_no_asset_names_under_genloom_prefixes_are_deleted(runtime: Runtime) -> None:
    blobs = runtime.blobs
    named = await media_service.write_blob(blobs, owner_id="owner", data=png(), kind="image",
                                           key=lambda asset_id, ext: job_asset_key("job-1", asset_id, ext))
    async with runtime.db.session() as session:
        await media_service.add_assets(session, [named])
    # what a SIGKILL between put and commit leaves: bytes without rows, under each layout genloom writes
    orphans = [
        await media_service.write_blob(blobs, owner_id="owner", data=png(colour=(1, 2, 3)), kind="image",
                                       key=lambda asset_id, ext: job_asset_key("job-2", asset_id, ext)),
        await media_service.write_blob(blobs, owner_id="owner", data=png(colour=(4, 5, 6)), kind="image",
                                       key=lambda asset_id, ext: cinemind_image_key(asset_id, ext)),
        await media_service.write_blob(blobs, owner_id="owner", data=png(colour=(7, 8, 9)), kind="thumb",
                                       key=lambda asset_id, ext: cinemind_thumb_key(asset_id, ext)),
    ]
    foreign = "backups/2026/snapshot.png"  # not genloom's: never listed
    huaban = huaban_key("client-1", "artwork-1", "original", 1, "png")  # HuaBan's own sweep decides on these
    for key in (foreign, huaban):
        await blobs.put(key, png(), mime="image/png")

    # young objects stay, whatever names them: their job may still commit its rows
    assert await sweep_orphans(runtime.db, blobs, runtime.settings) == {"checked": 0, "orphans": 0}
    assert all([await blobs.stat(o.key) is not None for o in orphans])

    later = utc_now() + safety_age(runtime.settings) + timedelta(minutes=1)
    assert await sweep_orphans(runtime.db, blobs, runtime.settings, now=later) == {"checked": 4, "orphans": 3}
    for orphan in orphans:
        assert await blobs.stat(orphan.key) is None, orphan.key
    for key in (named.key, foreign, huaban):
        assert await blobs.stat(key) is not None, key
    # a second pass finds nothing more
    assert await sweep_orphans(runtime.db, blobs, runtime.settings, now=later) == {"checked": 1, "orphans": 0}


def test_the_safety_age_never_drops_below_three_leases_and_five_minutes() -> None:
    assert safety_age(make_settings()) == timedelta(hours=24)
    short = make_settings(media_orphan_age_hours=0.01, lease_seconds=600)
    assert safety_age(short) == timedelta(seconds=3 * 600 + 300)
