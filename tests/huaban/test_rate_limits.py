"""Rate limits per client id and route group: 429 rate_limited with Retry-After once a window is full,
counted in the database (so every replica sees them) or in Redis; the janitor purges expired counters."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from genloom.app import create_app
from genloom.assembly import build_runtime, start_runtime
from genloom.ratelimits.limiter import DatabaseRateLimiter, RedisRateLimiter, Rule, parse_rules
from genloom.runtime import Runtime
from tests.conftest import settings_for
from tests.huaban.conftest import CLIENT_A, CLIENT_B


async def _app_client(runtime: Runtime) -> tuple[httpx.AsyncClient, object]:
    app = create_app(runtime=runtime, workers=0)
    ctx = app.router.lifespan_context(app)
    await ctx.__aenter__()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"), ctx


@pytest.mark.parametrize("backend", ["database", "redis"])
async def test_presign_limit(database_url: str, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    extra = {"use_redis": True, "redis_url": request.getfixturevalue("redis_url"),
             "redis_prefix": f"t{tmp_path.name[-8:]}"} if backend == "redis" else {}
    settings = settings_for(database_url, tmp_path, huaban_rate_limits="presign=2/min,default=300/min", **extra)
    runtime = build_runtime(settings)
    await start_runtime(runtime, migrate=False)
    http, ctx = await _app_client(runtime)
    try:
        body = {"type": "original", "mime": "image/png", "size": 100}
        a = {"X-Client-Id": CLIENT_A}
        for _ in range(2):
            ok = await http.post("/upload/presign", json=body, headers=a)
            assert ok.status_code == 200 and ok.headers["RateLimit-Limit"] == "2"
        refused = await http.post("/upload/presign", json=body, headers=a)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # another client has its own budget, and other route groups are not affected
        assert (await http.post("/upload/presign", json=body, headers={"X-Client-Id": CLIENT_B})).status_code == 200
        assert (await http.get("/gallery", headers=a)).status_code == 200
    finally:
        await http.aclose()
        await ctx.__aexit__(None, None, None)  # type: ignore[attr-defined]
        await runtime.close()


def test_rule_parsing() -> None:
    assert parse_rules("presign=60/min, generation=10/min,default=300/60") == {
        "presign": Rule(60, 60), "generation": Rule(10, 60), "default": Rule(300, 60)}
    assert parse_rules("upload=5/h,x=1/day") == {"upload": Rule(5, 3600), "x": Rule(1, 86400)}
    for bad in ("presign=60", "presign=a/min", "presign=5/fortnight"):
        with pytest.raises(ValueError):
            parse_rules(bad)


async def test_database_counters_expire(runtime: Runtime) -> None:
    from sqlalchemy import func, select, update

    from genloom.core.db import utc_now
    from genloom.ratelimits.models import RateCounter

    limiter = DatabaseRateLimiter(runtime.db)
    rule = Rule(limit=1, period_s=3600)
    assert (await limiter.hit("t", "s", rule)).allowed
    refused = await limiter.hit("t", "s", rule)
    assert not refused.allowed and refused.remaining == 0
    assert await limiter.purge_expired() == 0  # the window is still open
    async with runtime.db.write() as conn:
        await conn.execute(update(RateCounter).values(expires_at=utc_now()))
    assert await limiter.purge_expired() == 1
    async with runtime.db.read_session() as session:
        assert (await session.execute(select(func.count()).select_from(RateCounter))).scalar_one() == 0


async def test_redis_counters(redis_url: str, tmp_path: Path) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=f"t{tmp_path.name[-8:]}")
    try:
        rule = Rule(limit=2, period_s=60)
        decisions = [await limiter.hit("presign", "c1", rule) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert decisions[-1].remaining == 0 and 1 <= decisions[-1].reset_s <= 60
    finally:
        await limiter.aclose()
