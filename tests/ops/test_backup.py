"""``genloom backup`` of a running server (embedded SQLite, local media) while jobs keep arriving, then
``genloom restore`` into a fresh folder and a server started on it: every job and every file is there."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT, genloom_cmd, genloom_env, serve


def _wait(client: httpx.Client, base: str, job_id: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, object] = client.get(f"{base}/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_backup_a_running_server_and_restore_into_a_fresh_folder(tmp_path: Path, sqlite_template: Path) -> None:
    live, fresh, dest = tmp_path / "live", tmp_path / "fresh", tmp_path / "backup"
    live.mkdir()
    shutil.copyfile(sqlite_template, live / "genloom.db")
    env = genloom_env(f"sqlite+aiosqlite:///{live / 'genloom.db'}", live)
    with serve(env, workers=2, timeout=240) as base, httpx.Client(timeout=30) as client:
        made = [client.post(f"{base}/v1/jobs", json={"kind": "image.generate",
                                                     "input": {"prompt": f"backup {i}", "polish": False,
                                                               "width": 256, "height": 256}}).json()["id"]
                for i in range(4)]
        done = {job_id: _wait(client, base, job_id) for job_id in made}
        assert all(job["status"] == "succeeded" for job in done.values()), done
        # Keep writing while the backup runs: it must still be one consistent snapshot.
        stop = threading.Event()
        during: list[str] = []

        def keep_writing() -> None:
            with httpx.Client(timeout=30) as writer:
                while not stop.is_set():
                    response = writer.post(f"{base}/v1/jobs", json={"kind": "noop", "input": {}})
                    if response.status_code == 202:
                        during.append(response.json()["id"])

        thread = threading.Thread(target=keep_writing)
        thread.start()
        try:
            time.sleep(0.3)
            result = subprocess.run(genloom_cmd("backup", str(dest)), env=env, cwd=str(ROOT), capture_output=True,
                                    text=True, timeout=120, check=False)
        finally:
            stop.set()
            thread.join()
        assert result.returncode == 0, result.stderr
        manifest = json.loads((dest / "manifest.json").read_text())
        assert manifest["missing_files"] == [] and manifest["assets"] >= 8  # 4 pictures + 4 thumbnails
        assert during, "nothing was written while the backup ran"
    # a fresh folder; restoring into a folder that has a database is refused
    fresh_env = genloom_env(f"sqlite+aiosqlite:///{fresh / 'genloom.db'}", fresh)
    restored = subprocess.run(genloom_cmd("restore", str(dest)), env=fresh_env, cwd=str(ROOT), capture_output=True,
                              text=True, timeout=120, check=False)
    assert restored.returncode == 0, restored.stderr
    again = subprocess.run(genloom_cmd("restore", str(dest)), env=fresh_env, cwd=str(ROOT), capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 1 and "fresh data folder" in again.stderr
    with sqlite3.connect(str(fresh / "genloom.db")) as db:
        keys = [r[0] for r in db.execute("SELECT key FROM assets")]
        jobs = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    assert jobs == manifest["jobs"] >= len(made)
    assert keys and all((fresh / "media" / key).is_file() for key in keys)
    with serve(fresh_env, workers=1, timeout=240) as base, httpx.Client(timeout=30) as client:
        for job_id in made:
            job = client.get(f"{base}/v1/jobs/{job_id}").json()
            assert job["status"] == "succeeded", job
            for image in job["result"]["images"]:  # type: ignore[index]
                asset = client.get(f"{base}/v1/assets/{image['asset_id']}").json()  # signed by this server
                picture = client.get(asset["url"] if asset["url"].startswith("http") else base + asset["url"])
                assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
