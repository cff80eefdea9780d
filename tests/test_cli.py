"""The genloom command line, run in-process with click's runner against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from genloom.cli import main


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    env = {"GENLOOM_DATABASE_URL": database_url, "GENLOOM_DATA_DIR": str(tmp_path), "GENLOOM_LOG_LEVEL": "WARNING"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_migrate_generate_list_show_cancel_janitor(cli_env: dict[str, str]) -> None:
    assert run("migrate")[0] == 0
    assert run("init-db")[0] == 0
    code, out = run("generate", "a quiet lake at dawn", "--seed", "5", "--width", "64", "--height", "64")
    assert code == 0 and "queued" in out
    job_id = out.split()[1]
    code, out = run("jobs", "list")
    assert code == 0 and job_id in out and "image.generate" in out
    code, out = run("jobs", "show", job_id)
    assert code == 0 and json.loads(out)["input"]["prompt"] == "a quiet lake at dawn"
    code, out = run("jobs", "cancel", job_id)
    assert code == 0 and out.strip().endswith("canceled")
    code, out = run("jobs", "cancel", job_id)
    assert code == 1 and "already canceled" in out
    code, out = run("jobs", "show", "missing-id")
    assert code == 1 and "not found" in out.lower()
    code, out = run("janitor", "--older-than-hours", "0")
    assert code == 0 and json.loads(out)["pruned"]["jobs"] == 1


def test_bad_settings_stop_with_one_line_each(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENLOOM_PORT", "99999")
    monkeypatch.setenv("GENLOOM_LEASE_SECONDS", "zero")
    code, out = run("jobs", "list")
    assert code == 2
    assert "GENLOOM_PORT" in out and "GENLOOM_LEASE_SECONDS" in out


def test_openapi_command(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, _ = run("openapi", "-o", str(tmp_path / "openapi.json"))
    assert code == 0
    doc = json.loads((tmp_path / "openapi.json").read_text())
    assert "/v1/jobs" in doc["paths"] and "/api/generate" in doc["paths"]
