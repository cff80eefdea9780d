"""The npm clients the suite drives (tests/node/package.json): installed on first use, so a fresh clone works.

``node_bin("newman")`` returns the path of an installed package's command, running ``npm install`` in tests/node
first when any dependency listed in package.json is missing from node_modules. A file lock keeps two pytest
processes from installing at once."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent / "node"


def _missing() -> list[str]:
    wanted = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    return [name for name in wanted if not (NODE_DIR / "node_modules" / name / "package.json").exists()]


def ensure_node_packages() -> None:
    """Install tests/node's dependencies when one is missing; raise with npm's output if that fails."""
    if not _missing():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: install Node.js 18+ (Debian: apt-get install nodejs npm)")
    with open(Path(tempfile.gettempdir()) / "genloom-tests-npm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _missing():  # another process installed them while we waited
            return
        command = "install"  # honours package-lock.json when present, and tolerates one a step behind
        done = subprocess.run([npm, command, "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or _missing():
            raise RuntimeError(f"npm {command} in {NODE_DIR} failed:\n{done.stdout}\n{done.stderr}")


def node_bin(name: str) -> Path:
    """The command an installed npm package provides (``node_modules/.bin/<name>``)."""
    ensure_node_packages()
    path = NODE_DIR / "node_modules" / ".bin" / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed in {NODE_DIR}; add it with: npm install --prefix tests/node {name}")
    return path
