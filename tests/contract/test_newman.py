"""newman (Postman's command-line runner) over docs/genloom.postman_collection.json against a live ``genloom serve``
with a worker: the numbered folders must pass every test as delivered (sign up and in, a job polled to the end,
ratings, Studio Core, cineMind nodes and a generation, system routes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genloom.postman import collection_text
from tests.contract.conftest import LiveGenloom
from tests.nodejs import node_bin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_collection_runs_as_delivered(genloom_server_with_worker: LiveGenloom, database_url: str,
                                          tmp_path: Path) -> None:
    collection = json.loads(collection_text())  # what docs/ holds (tests/cinemind checks that it is fresh)
    flows = [folder["name"] for folder in collection["item"] if folder["name"][:1].isdigit()]
    assert len(flows) >= 7, flows
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(collection), encoding="utf-8")
    report = tmp_path / "newman.json"
    cmd = [str(node_bin("newman")), "run", str(path), "--env-var", f"baseUrl={genloom_server_with_worker.url}",
           "--reporters", "cli,json", "--reporter-json-export", str(report), "--timeout-request", "30000",
           "--color", "off", *[arg for name in flows for arg in ("--folder", name)]]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, f"newman failed:\n{done.stdout[-15000:]}\n{done.stderr[-3000:]}"
    run = json.loads(report.read_text())["run"]
    stats = run["stats"]
    assert stats["assertions"]["failed"] == 0 and stats["requests"]["failed"] == 0, stats
    # every request carried at least its status test, and the polls really ran the jobs to the end
    assert stats["assertions"]["total"] >= stats["requests"]["total"] >= sum(
        len(f["item"]) for f in collection["item"] if f["name"] in flows), stats
    names = [e["item"]["name"] for e in run["executions"]]
    assert "Poll the job until it is done" in names and "Poll the task until it is done" in names
