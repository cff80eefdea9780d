"""One client's GenFlow article read and search, timed in process beside a bare route of the same app.

    python bench/genflow_profile.py                    # SQLite
    python bench/genflow_profile.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench/genflow_profile.py --profile read     # cProfile of the article read, top functions

The app is built as ``genloom serve`` builds it and called through ASGI (no socket), so the figures are what the
app itself spends per request. The bare route (a constant pydantic model, like bench/genflow.py's ceiling) is
mounted on the same app, so it passes the same middleware: the difference is the route's own work.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import tempfile
import time
from typing import Any

import httpx
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.genflow import PASSWORD, chinese_corpus, seed  # noqa: E402
from bench.queue import drop_pg, fresh_pg  # noqa: E402


class Bare(BaseModel):
    id: str
    title: str
    content: str


async def timed(client: httpx.AsyncClient, url: str, n: int, headers: dict[str, str]) -> float:
    """Median milliseconds of ``n`` sequential GETs (after a warm-up)."""
    for _ in range(20):
        assert (await client.get(url, headers=headers)).status_code == 200
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    out.sort()
    return out[len(out) // 2]


async def run(db_url: str, data: Path, args: argparse.Namespace) -> None:
    from genloom.app import create_app
    from genloom.assembly import build_runtime, start_runtime
    from genloom.core.settings import Settings

    docs, words = chinese_corpus(args.articles, random.Random(3))
    ids = await seed(db_url, data, docs)
    settings = Settings(_env_file=None, database_url=db_url, data_dir=data, workers=0,  # type: ignore[call-arg]
                        log_level="ERROR")
    runtime = build_runtime(settings)
    await start_runtime(runtime, migrate=False)
    app = create_app(runtime=runtime, workers=0)

    @app.get("/bench/bare/{article_id}", include_in_schema=False)
    async def bare(article_id: str) -> Bare:
        return Bare(id=article_id, title="标题", content="正文" * 300)

    cases = {"bare": f"/bench/bare/{ids[0]}", "read": f"/articles/{ids[len(ids) // 2]}",
             "search": f"/articles/search?q={words[len(words) // 3]}&limit=20",
             "search_rare": f"/articles/search?q={docs[7][0][:2]}&limit=20"}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                login = await client.post("/auth/login", json={"username": "bench", "password": PASSWORD})
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                if args.profile:
                    url = cases[args.profile]
                    await timed(client, url, 20, headers)
                    prof = cProfile.Profile()
                    prof.enable()
                    await timed(client, url, args.requests, headers)
                    prof.disable()
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
                    print(out.getvalue())
                    return
                print(f"| case ({runtime.db.engine.dialect.name}, {args.articles} articles) | ms per request |")
                print("|---|---|")
                for name, url in cases.items():
                    ms = await timed(client, url, args.requests, headers)
                    print(f"| {name} `{url.split('?')[0]}` | {ms:.2f} |", flush=True)
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (a fresh database is made beside it)")
    parser.add_argument("--profile", choices=("bare", "read", "search", "search_rare"), default=None)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="genloom-bench-profile-"))
    db_url: Any = asyncio.run(fresh_pg(args.pg)) if args.pg else f"sqlite+aiosqlite:///{data / 'bench.db'}"
    try:
        asyncio.run(run(db_url, data, args))
    finally:
        if args.pg:
            asyncio.run(drop_pg(db_url))


if __name__ == "__main__":
    main()
