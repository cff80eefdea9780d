"""Assistant streaming benchmark: what genloom adds to a provider's first token, and streaming throughput.

    python bench/assistant.py                 # 30 replies, a 2,000-piece reply for throughput
    python bench/assistant.py --article-chars 200000   # each session linked to a 200,000-character article
    python bench/assistant.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench  # an empty db

A fake OpenAI-compatible chat server (tests/fakes/chat_stream.py, on a real socket in this process) answers
with a script of pieces and no delay of its own. For each sample the same chat request is timed twice:

- provider: straight to the fake with httpx (POST → first content chunk): the provider's own first token;
- genloom: ``POST /assistant/sessions/{id}/messages`` with ``Accept: text/event-stream`` on a
  ``genloom serve --workers 0`` process (SQLite, or ``--database-url``) configured with that fake as its OpenAI
  provider (POST → first ``event: token``), a fresh session each time (linked to one article of
  ``--article-chars`` characters when given, so the context carries an excerpt of it).

"added" is genloom minus provider: storing both messages, building the context (tokenizer, history),
starting the reply's task and the SSE hop. Throughput: one reply of ``--pieces`` pieces end to end, pieces per
second through genloom against the fake read directly. 127.0.0.1 only; stops by itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time

import httpx

from tests.fakes.base import FakeServer
from tests.fakes.chat_stream import ChatStreamFake, create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: one pooled client for the direct path, as genloom keeps one connection pool per provider
DIRECT = httpx.Client(timeout=60, headers={"Authorization": "Bearer k"})


def first_direct(base: str) -> float:
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.perf_counter()
    with DIRECT.stream("POST", f"{base}/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                return (time.perf_counter() - started) * 1000
    raise RuntimeError("no content from the fake")


def first_genloom(client: httpx.Client, article_id: str | None = None) -> float:
    session = client.post("/assistant/sessions", json={"articleId": article_id} if article_id else {}).json()["id"]
    started = time.perf_counter()
    with client.stream("POST", f"/assistant/sessions/{session}/messages", json={"content": "hi"},
                       headers={"Accept": "text/event-stream"}) as response:
        lines = response.iter_lines()
        for line in lines:
            if line == "event: token":
                took = (time.perf_counter() - started) * 1000
                for _ in lines:  # read the reply to its end
                    pass
                return took
    raise RuntimeError("no token from genloom")


def throughput(url: str, client: httpx.Client | None, pieces: int) -> float:
    count, started = 0, time.perf_counter()
    if client is None:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with DIRECT.stream("POST", f"{url}/chat/completions", json=body) as response:
            count = sum(1 for line in response.iter_lines() if '"content": "p' in line)
    else:
        session = client.post("/assistant/sessions", json={}).json()["id"]
        with client.stream("POST", f"/assistant/sessions/{session}/messages", json={"content": "long"},
                           headers={"Accept": "text/event-stream"}) as response:
            count = sum(1 for line in response.iter_lines() if line == "event: token")
    assert count == pieces, (count, pieces)
    return pieces / (time.perf_counter() - started)


def cpu_ms(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc: load-independent, unlike latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--pieces", type=int, default=2000)
    parser.add_argument("--article-chars", type=int, default=0, help="link each session to an article this long")
    parser.add_argument("--database-url", default="", help="an empty database for the server (default: SQLite)")
    args = parser.parse_args()
    state = ChatStreamFake(api_key="k", pieces=["Hello", ", ", "writer", "!"])
    with FakeServer(create_app(state)) as fake, tempfile.TemporaryDirectory() as tmp:
        base = fake.url + "/v1"
        port = free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")},
               "GENLOOM_DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
               "GENLOOM_DATA_DIR": tmp,
               "GENLOOM_LOG_LEVEL": "WARNING", "GENLOOM_SECRET_KEY": "bench-secret-key-bench-secret-key",
               "GENLOOM_TEXT_PROVIDER": "openai", "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "k",
               "GENLOOM_PROVIDER_PROBES": "false", "GENLOOM_ASSISTANT_REQUESTS_PER_MINUTE": "0",
               "GENLOOM_ASSISTANT_TOKENS_PER_MINUTE": "0", "GENLOOM_ASSISTANT_REPLY_TOKENS": "100000",
               "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "genloom.cli", "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", "0"], env=env, cwd=tmp)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("genloom serve did not start") from None
                    time.sleep(0.2)
            with httpx.Client(base_url=url, timeout=60) as client:
                client.post("/auth/register", json={"username": "bencher", "password": "bench password 1"})
                token = client.post("/auth/login", json={"username": "bencher", "password": "bench password 1"}
                                    ).json()["access_token"]
                client.headers["Authorization"] = f"Bearer {token}"
                article_id = None
                if args.article_chars:
                    para = "人工智能正在改变写作。很多作者用它整理提纲、检查语法。Writers still need their own eyes. "
                    body = (para * (args.article_chars // len(para) + 1))[:args.article_chars]
                    article_id = client.post("/articles", json={"title": "Bench", "content": body}).json()["id"]
                for _ in range(3):  # warm-up: tokenizer load, connection pools
                    first_genloom(client, article_id)
                    first_direct(base)
                direct, through = [], []
                cpu_before = cpu_ms(proc.pid)
                for _ in range(args.samples):
                    direct.append(first_direct(base))
                    through.append(first_genloom(client, article_id))
                cpu_per_reply = (cpu_ms(proc.pid) - cpu_before) / args.samples
                added = [t - d for t, d in zip(through, direct, strict=True)]
                state.pieces = [f"p{i} " for i in range(args.pieces)]
                raw = throughput(base, None, args.pieces)
                served = throughput(url, client, args.pieces)
        finally:
            proc.terminate()
            proc.wait(30)

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    where = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    linked = f", sessions linked to a {args.article_chars:,}-character article" if args.article_chars else ""
    print(f"\nfirst token, {args.samples} replies, {where}{linked} (ms)\n")
    print("| path | p50 | p99 | mean |")
    print("|---|---|---|---|")
    for name, values in (("provider fake, direct", direct), ("through genloom (SSE)", through),
                         ("added by genloom", added)):
        print(f"| {name} | {statistics.median(values):.1f} | {p(values, 0.99):.1f} | {statistics.mean(values):.1f} |")
    print(f"\nserver CPU per reply (session made, message sent, reply streamed and stored): {cpu_per_reply:.1f} ms")
    print(f"\nstreaming throughput, one reply of {args.pieces} pieces\n")
    print("| path | pieces/s |")
    print("|---|---|")
    print(f"| provider fake, direct | {raw:,.0f} |")
    print(f"| through genloom (SSE) | {served:,.0f} |")


if __name__ == "__main__":
    main()
