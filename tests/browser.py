"""Real Chromium for the tests that need a browser (WebSocket origin checks, EventSource, fetch under CORS).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by the npm package ``playwright-core`` from
tests/node (Playwright's Python package cannot download its own browser on this network, and the npm client is
the one the JavaScript apps themselves test with). Both are installed on first use when missing, so CI on a
fresh clone works: ``apt-get install -y chromium`` (as root; otherwise the test is failed with the command to
run) and ``npm install`` in tests/node (:func:`ensure_playwright`).

    with page_origin() as origin:                    # a local server with a blank page at every path
        [where] = await run_in_chromium([BrowserPage(f"{origin}/", script="return location.origin")])

``script`` is the body of an async JavaScript function; what it returns must be JSON. A page whose script
throws yields a :class:`PageError` in its place. Every request crosses the network for real; pass a list as
``requests=`` to get, per page, the URL of every request it made (to check that a page never leaves its host).

A page may instead be given ``html``: Playwright then answers its URL itself, so any origin can be played
without a server. Chromium counts such a page as public, and its Local Network Access rule stops public pages
from reaching 127.0.0.1 (the socket is closed before the handshake is sent): a page that must talk to a local
genloom server comes from :func:`page_origin`, as real apps in development come from localhost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.fakes.base import FakeServer

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = Path("/usr/bin/chromium")
#: a quiet, sandbox-free headless Chromium that never phones home (no updates, sync or background fetches)
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
HARNESS = NODE_DIR / "in_page.cjs"
BLANK = "<!doctype html><meta charset=utf-8><title>genloom test page</title>"


@dataclass(frozen=True)
class BrowserPage:
    """One page to open: its URL (scheme + host give its origin), the document served there, a script to run."""

    url: str
    script: str
    #: a document Playwright answers ``url`` with itself (the page then counts as public, see above); None loads
    #: ``url`` from the network
    html: str | None = None


@dataclass(frozen=True)
class PageError:
    """A page whose script threw (or whose URL could not be loaded)."""

    error: str


@contextlib.contextmanager
def page_origin(html: str = BLANK) -> Iterator[str]:
    """A local web server answering every path with ``html``; yields its origin (``http://127.0.0.1:<port>``)."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    with FakeServer(Starlette(routes=[Route("/{path:path}", page)])) as server:
        yield server.url


def ensure_chromium() -> Path:
    """``/usr/bin/chromium``, installed with apt-get when missing (one installer at a time across processes)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail("Chromium is missing: run `apt-get update && apt-get install -y chromium` as root")
    with open(Path(tempfile.gettempdir()) / "genloom-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CHROMIUM.exists():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
                done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
                if done.returncode != 0:
                    pytest.fail(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return CHROMIUM


def ensure_playwright() -> None:
    """tests/node's packages (playwright-core among them) installed when playwright-core is missing."""
    if (NODE_DIR / "node_modules" / "playwright-core" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: install Node.js 18+ (Debian: apt-get install nodejs npm)")
    # the same lock as every other installer of tests/node, so two pytest processes never install at once
    with open(Path(tempfile.gettempdir()) / "genloom-tests-npm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (NODE_DIR / "node_modules" / "playwright-core" / "package.json").exists():
            return
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm install in {NODE_DIR} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def ensure_browser() -> Path:
    """Chromium and playwright-core, both installed when missing; returns the Chromium executable."""
    executable = ensure_chromium()
    ensure_playwright()
    return executable


async def run_in_chromium(pages: list[BrowserPage], *, timeout: float = 30.0,
                          requests: list[list[str]] | None = None) -> list[Any]:
    """Open each page in a fresh browser context of one headless Chromium and return what each script returned
    (a :class:`PageError` for a page that failed). Runs as a subprocess, so the test's event loop (and a
    ``live_server`` on it) keeps serving meanwhile. ``requests``, when given, receives one list per page: the URLs
    that page's context requested until its script returned (the page itself, assets, fetches, blocked ones too)."""
    executable = ensure_browser()
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 18+ (Debian: apt-get install nodejs npm)")
    job = {"executable": str(executable), "args": list(CHROMIUM_ARGS), "timeout_ms": int(timeout * 1000),
           "pages": [{"url": p.url, "html": p.html, "script": p.script} for p in pages]}
    proc = await asyncio.create_subprocess_exec(node, str(HARNESS), cwd=str(NODE_DIR), stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(job).encode()), timeout * (len(pages) + 1))
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"Chromium harness failed ({proc.returncode}): {err.decode(errors='replace')[-3000:]}")
    results = json.loads(out)
    if requests is not None:
        requests.extend([list(item.get("requests") or []) for item in results])
    return [item["value"] if item["ok"] else PageError(item["error"]) for item in results]
