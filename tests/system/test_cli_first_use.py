"""The command line as a newcomer first meets it: --version, one help line for migrate and its alias, a
``jobs list`` table with a header, and a quiet start-up: one line saying where and with what, and a warning
while the development secret key is in use."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from genloom.cli import main
from genloom.system.startup import quiet_startup_chatter, secret_key_warning, startup_line
from tests.conftest import make_settings
from tests.processes import free_port, genloom_cmd, genloom_env


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_version_and_one_help_line_for_migrate() -> None:
    assert run("--version") == (0, f"genloom {version('genloom')}\n")
    code, out = run("--help")
    lines = [line.strip() for line in out.splitlines()]
    assert code == 0 and [line for line in lines if line.startswith("migrate")] == [
        "migrate      Upgrade the database schema (alias: init-db)."]
    assert not any(line.startswith("init-db") for line in lines)
    alias_help = run("init-db", "--help")[1]  # the alias still runs migrate
    assert alias_help.startswith("Usage: main init-db") and "Upgrade the database schema" in alias_help


def test_jobs_list_is_a_table_with_a_header(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in {"GENLOOM_DATABASE_URL": database_url, "GENLOOM_DATA_DIR": str(tmp_path),
                       "GENLOOM_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    ids = [run("generate", f"lake {i}", "--width", "64", "--height", "64")[1].split()[1] for i in range(2)]
    code, out = run("jobs", "list")
    assert code == 0
    header, *rows = [line for line in out.splitlines() if line.strip()]
    assert header.split() == ["ID", "KIND", "STATUS", "PHASE", "PROGRESS", "CREATED"]
    assert sorted(row.split()[0] for row in rows) == sorted(ids)
    kind_at = header.index("KIND")
    assert all(row[kind_at:].startswith("image.generate") for row in rows)  # aligned columns
    assert all(row.split()[2] == "queued" and "0%" in row for row in rows)


def test_startup_line_names_address_database_storage_and_providers(tmp_path: Path) -> None:
    settings = make_settings(database_url="postgresql+asyncpg://genloom:s3cret@db:5432/genloom", host="0.0.0.0",
                             port=9000, data_dir=tmp_path, image_provider="wan", dashscope_api_key="k")
    line = startup_line(settings, make_url(settings.database_url), 4)
    assert line.startswith("genloom listening on http://0.0.0.0:9000 · database postgresql+asyncpg://genloom:***@db")
    assert f"storage local {tmp_path / 'media'}" in line and "image=dashscope" in line and "text=local" in line
    assert "s3cret" not in line and line.endswith("4 embedded worker slots")
    assert secret_key_warning(settings) is not None
    assert secret_key_warning(make_settings(secret_key="x" * 40)) is None


def test_quiet_at_info_chatty_at_debug() -> None:
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        quiet_startup_chatter()
        assert not logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
        assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.WARNING)
        root.setLevel(logging.DEBUG)
        quiet_startup_chatter()
        assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(before)
        quiet_startup_chatter()


@pytest.mark.slow
def test_serve_says_one_line_at_start(tmp_path: Path) -> None:
    port = free_port()
    env = genloom_env(f"sqlite+aiosqlite:///{tmp_path / 'genloom.db'}", tmp_path, GENLOOM_LOG_LEVEL="INFO")
    proc = subprocess.Popen(genloom_cmd("serve", "--port", str(port), "--workers", "0"), env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts slowly
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    lines = [line for line in out.splitlines() if line.strip()]
    started = [line for line in lines if "genloom listening on" in line]
    assert len(started) == 1 and f"http://127.0.0.1:{port}" in started[0]
    assert any("WARNING" in line and "GENLOOM_SECRET_KEY" in line for line in lines)
    assert not any("alembic" in line or "setup plugin" in line or "Started server process" in line for line in lines)
