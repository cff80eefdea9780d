"""schemathesis 4 over the whole OpenAPI document against a real ``genloom serve``: every check, every phase, a
fixed seed, bounded examples (schemathesis.toml), three passes — anonymous, a signed-in user, an anonymous client
id — with GenFlow rows of the user's (an article, an assistant session and its messages) for the ids to name.

Zero findings is the bar: a failure prints schemathesis's own report (each finding with a curl line to replay).
docs/security.md lists what the passes try and why an operation is left out of a pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import GenflowRows, LiveGenloom, genflow_rows

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = HERE / "schemathesis.toml"
#: HuaBan's operations: its callers are client ids, and without one each answers 400 `client_id_required` (but
#: POST /init), so only the client-id pass fuzzes them (docs/security.md)
HUABAN = "^/(init|upload/|media/commit|media/upload|images|artworks|gallery|generation/|ai/|grow/)"
CLIENT_ID = "contract-client-0001"
#: the client-id pass sends its client id as the document's X-Client-Id parameter: schemathesis then neither
#: fuzzes it nor counts a request as "invalid X-Client-Id" whose header a -H option had replaced with this one
CLIENT_ID_BLOCK = f"""
[[operations]]
include-path-regex = "^/"
parameters = {{ "header.X-Client-Id" = "{CLIENT_ID}" }}
"""


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("schemathesis is not installed: pip install -e '.[dev]'")
    return found


def _config(folder: Path, rows: GenflowRows, extra: str = "") -> Path:
    """schemathesis.toml in ``folder``, beside the dictionaries of GenFlow ids it names (``extra`` appended)."""
    folder.mkdir()
    (folder / "genflow-articles.dict").write_text(f'"{rows.article_id}"\n')
    (folder / "genflow-sessions.dict").write_text(f'"{rows.session_id}"\n')
    (folder / "genflow-messages.dict").write_text("".join(f'"{m}"\n' for m in rows.message_ids))
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG.read_text() + extra)
    return config


def _start(server: LiveGenloom, config: Path, *args: str, hooks: str | None = None) -> subprocess.Popen[str]:
    # Every check is on through schemathesis.toml (`[checks] enabled = true`): `--checks all` here would also
    # switch back on the checks its per-operation blocks turn off (a check named on the command line wins).
    cmd = [_st(), "--config-file", str(config), "--no-color", "run", f"{server.url}/openapi.json",
           "--generation-with-security-parameters", "false",
           "--report", "junit", "--report-dir", str(config.parent / "report"), *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT)) | ({"SCHEMATHESIS_HOOKS": hooks} if hooks else {})
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=config.parent,
                            env=env)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_openapi_document_holds_for_every_caller(request: pytest.FixtureRequest, database_url: str,
                                                 tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        # The document and the request checks are the same on every database, and the run takes minutes:
        # once, on the default database (every route's PostgreSQL behaviour is covered by its own tests).
        pytest.skip("schemathesis runs once, on SQLite")
    genloom_server: LiveGenloom = request.getfixturevalue("genloom_server")
    rows = genflow_rows(genloom_server)
    # The three passes run at once against one server (their requests mostly wait on the server's password
    # hashing, so together they take little longer than one).
    passes = {
        # no credentials at all, and schemathesis does not make up Bearer tokens or client ids
        "anonymous": _start(genloom_server, _config(tmp_path / "anonymous", rows), "--exclude-path-regex", HUABAN),
        # a signed-in user; POST /auth/logout would end this pass's own sign-in (the other passes fuzz it)
        "user": _start(genloom_server, _config(tmp_path / "user", rows), "--exclude-path-regex", HUABAN,
                       "-H", f"Authorization: Bearer {genloom_server.user_token}", "--exclude-path", "/auth/logout"),
        # an anonymous client id (X-Client-Id), as HuaBan and devices send it
        "client-id": _start(genloom_server, _config(tmp_path / "client-id", rows, CLIENT_ID_BLOCK),
                            hooks="tests.contract.hooks"),
    }
    outputs = {name: proc.communicate(timeout=1400)[0] for name, proc in passes.items()}
    for name, proc in passes.items():
        out = outputs[name]
        assert proc.returncode == 0, f"schemathesis ({name} pass) reported findings:\n{out[-20000:]}"
        assert "Tested:" in out, f"schemathesis ({name} pass) tested nothing:\n{out[-5000:]}"
