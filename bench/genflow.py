"""GenFlow benchmark: article reads and search at 200 concurrent clients, channel latency, 1,000 channel
connections in one process, search over 10,000 Chinese articles — each beside a ceiling measured in the same run.

    python bench/genflow.py                     # SQLite, then PostgreSQL when reachable
    python bench/genflow.py --articles 2000 --duration 3 --connections 500 --no-pg
    python bench/genflow.py --http-only --rate 2      # the HTTP cases only, closed and open loop

Seed 003's targets: API < 100 ms, WebSocket message < 50 ms, 1,000+ concurrent connections, < 1 GB.

For each database it seeds ``--articles`` published Chinese articles (sentences drawn from jieba's dictionary,
~300 characters each, through the articles service, so each is versioned and indexed), starts one
``genloom serve --workers 0`` (one uvicorn process) and measures:

- ``GET /articles/{id}`` and ``GET /articles/search?q=…`` with ``wrk -t2 -c200`` (p50/p99 and req/s), beside a
  bare FastAPI route returning a constant under the same uvicorn (the most a route can do on this machine);
- the same routes open-loop (bench/openloop.py): ``--clients`` connections each sending ``--rate`` requests a
  second, latency counted from when each request was due, beside the bare route at the same rate;
- publish → other subscriber latency on ``WS /ws/{client_id}`` (``--samples`` round trips), beside a bare
  Starlette WebSocket relay (the message handed from one socket to another in memory, nothing stored);
- ``--connections`` channel connections joined to one article room: the server's RSS before and after, and
  the time for one publish to reach all of them.

Needs ``wrk``. Keep runs short on a shared machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import random
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from typing import Any
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import raise_nofile, rss  # noqa: E402
from bench.openloop import OpenLoopResult, open_loop  # noqa: E402
from bench.queue import drop_pg, fresh_pg  # noqa: E402
from tests.processes import free_port, genloom_cmd, genloom_env, stop  # noqa: E402

PASSWORD = "bench password 1"
BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI, WebSocket
    from pydantic import BaseModel

    class Article(BaseModel):
        id: str
        title: str
        content: str

    app = FastAPI()
    room: set[WebSocket] = set()

    @app.get("/articles/{article_id}")
    async def article(article_id: str) -> Article:
        return Article(id=article_id, title="标题", content="正文" * 300)

    @app.websocket("/ws/{client_id}")
    async def relay(ws: WebSocket, client_id: str) -> None:
        await ws.accept()
        room.add(ws)
        try:
            while True:
                text = await ws.receive_text()
                for other in list(room):
                    if other is not ws:
                        await other.send_text(text)
        except Exception:
            room.discard(ws)
    """
)


def wrk(url: str, duration: int, connections: int, token: str | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        return float(m.group(1)) * scale[m.group(2)] if m else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} error responses from {url}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": pct("50"), "p99": pct("99")}


def paced(port: int, path: str, args: argparse.Namespace, token: str | None = None) -> OpenLoopResult:
    """``--clients`` connections each sending ``--rate`` requests a second for ``--duration`` seconds."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return asyncio.run(open_loop("127.0.0.1", port, path, clients=args.clients, rate=args.rate,
                                 duration=args.duration, headers=headers))


def wait_idle(base: str, *, quick_ms: float = 10.0, runs: int = 5, timeout: float = 60.0) -> None:
    """Until ``runs`` health checks in a row answer within ``quick_ms``: a closed-loop wrk run leaves the server
    with the requests it had accepted still to answer (seconds of work for a saturated search), and an open-loop
    case started meanwhile would time that backlog, not the route."""
    deadline = time.monotonic() + timeout
    quick = 0
    with httpx.Client(timeout=10) as client:
        while quick < runs and time.monotonic() < deadline:
            t0 = time.perf_counter()
            client.get(base + "/healthz")
            quick = quick + 1 if (time.perf_counter() - t0) * 1000 < quick_ms else 0
            time.sleep(0.05)


def wait_ready(base: str) -> None:
    for _ in range(1200):
        try:
            if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def chinese_corpus(n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[str]]:
    """``n`` (title, body) pairs of dictionary words, and the words (for queries)."""
    import jieba

    jieba.setLogLevel(40)
    jieba.initialize()
    words = [w for w, f in jieba.dt.FREQ.items() if f > 2000 and 2 <= len(w) <= 4
             and all("\u4e00" <= c <= "\u9fff" for c in w)]
    words.sort()
    docs = []
    for _ in range(n):
        title = "".join(rng.choices(words, k=3))
        body = "。".join("".join(rng.choices(words, k=12)) for _ in range(12)) + "。"
        docs.append((title, body))
    return docs, words


async def seed(db_url: str, data: Path, docs: list[tuple[str, str]]) -> list[str]:
    from genloom.articles import service
    from genloom.core.db import Database
    from genloom.core.migrate import upgrade
    from genloom.core.principal import SYSTEM
    from genloom.core.settings import Settings
    from genloom.identity import service as users

    settings = Settings(_env_file=None, database_url=db_url, data_dir=data, workers=0)  # type: ignore[call-arg]
    db = Database(settings)
    try:
        await upgrade(db.engine)
        async with db.session() as s:
            user = await users.create_user(s, SYSTEM, username="bench", password=PASSWORD, email=None,
                                           roles=["user"])
            author = users.principal_for(user)
        ids = []
        for start in range(0, len(docs), 200):
            async with db.session() as s:
                for title, body in docs[start:start + 200]:
                    article = await service.create_article(s, author, title=title, content=body,
                                                           status="published")
                    ids.append(article.id)
        # a deployed database has planner statistics (autovacuum, ANALYZE): without them PostgreSQL plans the
        # search as a scan of every article instead of the GIN index
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
        return ids
    finally:
        await db.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ws_latency(base: str, path_a: str, path_b: str, samples: int, frame: Any, *, genloom: bool) -> list[float]:
    """Round trips publisher → subscriber; the subscriber's receive time minus the publisher's send time."""
    a = await connect(base.replace("http", "ws") + path_a, max_size=None)
    b = await connect(base.replace("http", "ws") + path_b, max_size=None)
    room = frame["room"] if genloom else None
    if genloom:
        for ws in (a, b):
            await ws.send(json.dumps({"type": "join", "room": room}))
            while json.loads(await ws.recv())["type"] != "joined":
                pass
    out = []
    for i in range(samples):
        t0 = time.perf_counter()
        await a.send(json.dumps({**frame, "data": {"i": i}}) if genloom else json.dumps({"i": i}))
        while True:
            msg = json.loads(await asyncio.wait_for(b.recv(), 10))
            if not genloom or (msg.get("type") == "message" and msg["data"]["i"] == i):
                break
        out.append((time.perf_counter() - t0) * 1000)
        if genloom:
            while json.loads(await a.recv())["type"] != "published":
                pass
    await a.close()
    await b.close()
    return out


async def many_connections(base: str, token: str, room: str, n: int) -> tuple[list[ClientConnection], float]:
    conns: list[ClientConnection] = []
    for start in range(0, n, 100):
        batch = await asyncio.gather(*(connect(base.replace("http", "ws") + f"/ws/c{i}?token={token}",
                                               open_timeout=60) for i in range(start, min(n, start + 100))))
        for ws in batch:
            await ws.send(json.dumps({"type": "join", "room": room}))
        for ws in batch:
            while json.loads(await ws.recv())["type"] != "joined":
                pass
        conns.extend(batch)
    return conns, 0.0


async def fan_out(conns: list[ClientConnection], publisher: ClientConnection, room: str) -> float:
    async def wait_one(ws: ClientConnection) -> None:
        while json.loads(await ws.recv())["type"] != "message":
            pass

    t0 = time.perf_counter()
    waiters = [asyncio.create_task(wait_one(ws)) for ws in conns]
    await publisher.send(json.dumps({"type": "publish", "room": room, "data": {"hello": "everyone"}}))
    await asyncio.wait_for(asyncio.gather(*waiters), 60)
    return (time.perf_counter() - t0) * 1000


def bare(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-bare-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level",
                             "warning", "--no-access-log", "--ws", "websockets-sansio"], cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        wrk(base + "/articles/x", 2, args.clients)
        read = wrk(base + "/articles/x", args.duration, args.clients)
        steady = paced(port, "/articles/x", args)
        lat = [] if args.http_only else asyncio.run(ws_latency(base, "/ws/a", "/ws/b", args.samples, {},
                                                                 genloom=False))
        return {"read": read, "open": steady, "ws": lat}
    finally:
        stop(proc)


def genloom_case(db: str, args: argparse.Namespace, docs: list[tuple[str, str]], words: list[str],
                 rng: random.Random) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-genflow-"))
    db_url = asyncio.run(fresh_pg(args.pg)) if db == "postgresql" else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    try:
        t0 = time.perf_counter()
        ids = asyncio.run(seed(db_url, tmp, docs))
        seed_s = time.perf_counter() - t0
        print(f"{db}: seeded {len(ids):,} articles in {seed_s:,.0f} s", flush=True)
        # the bench's sockets send nothing while they wait: keep the server from dropping them as silent
        env = genloom_env(db_url, tmp, GENLOOM_LOG_LEVEL="ERROR", GENLOOM_DB_AUTO_MIGRATE="false",
                          GENLOOM_CHANNEL_HEARTBEAT_SECONDS="600")
        port = free_port()
        proc = subprocess.Popen(genloom_cmd("serve", "--port", str(port), "--workers", "0"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base)
            token = httpx.post(base + "/auth/login", json={"username": "bench", "password": PASSWORD}).json()[
                "access_token"]
            article = base + f"/articles/{ids[len(ids) // 2]}"
            wrk(article, 2, args.clients, token)
            read = wrk(article, args.duration, args.clients, token)
            common, rare = words[len(words) // 3], docs[7][0][:2]
            search_common = wrk(f"{base}/articles/search?q={quote(common)}&limit=20", args.duration, args.clients, token)
            search_rare = wrk(f"{base}/articles/search?q={quote(rare)}&limit=20", args.duration, args.clients, token)
            hits = httpx.get(f"{base}/articles/search", params={"q": common, "limit": 50},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60).json()["items"]
            paths = {"read": f"/articles/{ids[len(ids) // 2]}",
                     "search_common": f"/articles/search?q={quote(common)}&limit=20",
                     "search_rare": f"/articles/search?q={quote(rare)}&limit=20"}
            steady = {}
            for key, path in paths.items():
                wait_idle(base)
                steady[key] = paced(port, path, args, token)
            found = {"db": db, "seed_s": seed_s, "read": read, "search_common": search_common,
                     "search_rare": search_rare, "common": common, "rare": rare, "common_hits": len(hits),
                     "open": steady}
            if args.http_only:
                return found
            room = f"article:{ids[0]}"
            lat = asyncio.run(ws_latency(base, f"/ws/pub?token={token}", f"/ws/sub?token={token}", args.samples,
                                         {"type": "publish", "room": room}, genloom=True))
            rss0 = rss(proc.pid)

            async def crowd() -> tuple[int, float, int]:
                conns, _ = await many_connections(base, token, room, args.connections)
                await asyncio.sleep(1)
                rss1 = rss(proc.pid)
                publisher = await connect(base.replace("http", "ws") + f"/ws/pub2?token={token}")
                fan = await fan_out(conns, publisher, room)
                await publisher.close()
                await asyncio.gather(*(ws.close() for ws in conns))
                return rss1, fan, len(conns)

            rss1, fan, opened = asyncio.run(crowd())
            return {**found, "ws": lat, "rss0": rss0, "rss1": rss1, "fan": fan, "opened": opened}
        finally:
            stop(proc)
    finally:
        if db == "postgresql":
            asyncio.run(drop_pg(db_url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200, help="concurrent HTTP clients (wrk -c)")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--rate", type=float, default=2.0, help="open loop: requests a second per client")
    parser.add_argument("--http-only", action="store_true", help="skip the channel cases")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install wrk")
    raise_nofile(args.connections * 2 + 512)
    rng = random.Random(3)
    docs, words = chinese_corpus(args.articles, rng)
    ceiling = bare(args)
    print(f"{args.articles:,} published Chinese articles (~{sum(len(b) for _, b in docs) // len(docs)} chars); "
          f"wrk -t2 -c{args.clients} -d{args.duration}s; one uvicorn process; {args.samples} WS samples", flush=True)
    r, o = ceiling["read"], ceiling["open"]
    print(f"| bare FastAPI GET (ceiling) | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} |")
    print(f"| bare FastAPI GET, open loop {args.clients} × {args.rate:g}/s | {o.rps:,.0f} | {o.pct(.5):.1f} | "
          f"{o.pct(.99):.1f} |")
    if ceiling["ws"]:
        print(f"| bare Starlette WS relay (ceiling) | p50 {pct(ceiling['ws'], .5):.2f} ms | "
              f"p99 {pct(ceiling['ws'], .99):.2f} ms |")
    sys.stdout.flush()
    for db in (*(() if args.no_sqlite else ("sqlite",)), *(() if args.no_pg else ("postgresql",))):
        report(genloom_case(db, args, docs, words, rng), len(docs))


def report(c: dict[str, Any], n: int) -> None:
    print(f"\n{c['db']}: seeded {n:,} articles at {n / c['seed_s']:,.0f}/s (service, jieba, index in the same "
          "transaction)\n| case | req/s | p50 ms | p99 ms |\n|---|---|---|---|")
    for key, label in (("read", "GET /articles/{id}"),
                       ("search_common", f"search \"{c['common']}\" ({c['common_hits']}+ hits)"),
                       ("search_rare", f"search \"{c['rare']}\"")):
        r, o = c[key], c["open"][key]
        print(f"| {c['db']}: {label} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} |")
        print(f"| {c['db']}: {label}, open loop | {o.rps:,.0f} | {o.pct(.5):.1f} | {o.pct(.99):.1f} |"
              + (f" {o.errors} errors" if o.errors else ""))
    if "ws" not in c:
        return
    print(f"| {c['db']}: channel publish → other subscriber | – | {pct(c['ws'], .5):.2f} | {pct(c['ws'], .99):.2f} |")
    print(f"| {c['db']}: {c['opened']:,} channel connections | RSS {c['rss0'] / 2**20:,.0f} → {c['rss1'] / 2**20:,.0f} MB "
          f"| one publish reaches all in {c['fan']:,.0f} ms | |", flush=True)


if __name__ == "__main__":
    main()
