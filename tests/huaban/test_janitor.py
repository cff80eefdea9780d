"""The HuaBan janitor: uploads presigned but never committed past their age (object and row), reserved artwork
ids that never became artworks, objects no row names, expired rate counters — and nothing that is in use."""

from __future__ import annotations

from datetime import timedelta

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select, update

from genloom.artworks import janitor
from genloom.artworks.models import Artwork, Upload
from genloom.core.db import utc_now
from genloom.ratelimits.limiter import DatabaseRateLimiter, Rule
from genloom.ratelimits.models import RateCounter
from genloom.runtime import Runtime
from tests.huaban.conftest import CLIENT_A, Huaban, drawing_png


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.db.read_session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_sweep(client: httpx.AsyncClient, runtime: Runtime) -> None:
    app = Huaban(client, CLIENT_A)
    kept = await app.artwork(with_audio=False)
    png = drawing_png(seed=5)
    stale = (await app.call("POST", "/upload/presign",
                            json={"type": "original", "mime": "image/png", "size": len(png)})).json()
    await app.put_file(stale, png)  # uploaded, never committed
    orphan = f"clients/{CLIENT_A}/artworks/{kept['id']}/video/v9/file.mp4"
    await runtime.blobs.put(orphan, b"\x00\x00\x00\x18ftypmp42" + b"\0" * 100, mime="video/mp4")
    limiter = DatabaseRateLimiter(runtime.db)
    await limiter.hit("t", "s", Rule(1, 1))
    old = utc_now() - timedelta(hours=25)
    async with runtime.db.write() as conn:
        await conn.execute(update(Upload).values(created_at=old))
        await conn.execute(update(Artwork).values(created_at=old))
        await conn.execute(update(RateCounter).values(expires_at=old))
    swept = await janitor.sweep(runtime, limiter)
    assert swept["counters"] >= 1  # this test's counter and those of the requests above, all aged
    assert {k: v for k, v in swept.items() if k != "counters"} == {
        "uploads": 1, "reservations": 1, "orphans": 0, "checkpoints": 0}
    assert await runtime.blobs.stat(stale["key"]) is None  # the uploaded-but-never-committed object is gone
    assert await _count(runtime, RateCounter) == 0
    # the created artwork and its files are untouched; the orphan waits until its bytes are old too
    detail = await app.call("GET", f"/artworks/{kept['id']}")
    assert detail.status_code == 200 and detail.json()["coverUrl"]
    keys = {s.key for s in await runtime.blobs.list("clients/")}
    assert any(k.endswith("/original/v1/file.png") for k in keys) and orphan in keys
    assert (await app.call("GET", detail.json()["coverUrl"])).status_code == 200


async def test_sweep_removes_old_orphans(runtime: Runtime) -> None:
    import os

    orphan = f"clients/{CLIENT_A}/artworks/0000/original/v1/file.png"
    await runtime.blobs.put(orphan, drawing_png(), mime="image/png")
    path = runtime.settings.media_root / orphan
    past = (utc_now() - timedelta(hours=30)).timestamp()
    os.utime(path, (past, past))
    assert (await janitor.sweep(runtime))["orphans"] == 1
    assert await runtime.blobs.stat(orphan) is None


def test_cli(runtime: Runtime) -> None:
    from genloom.cli import main

    env = {"GENLOOM_DATABASE_URL": runtime.settings.database_url, "GENLOOM_MEDIA_DIR": str(runtime.settings.media_root),
           "GENLOOM_DATA_DIR": str(runtime.settings.data_dir)}
    result = CliRunner().invoke(main, ["janitor"], env=env)
    assert result.exit_code == 0, result.output
    assert '"huaban": {"uploads": 0' in result.output
