"""docs/python-api.md: its example runs as documented (in a fresh process, on the test database)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)\n```", text, flags=re.S)


def test_python_api_example_runs(database_url: str, tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    code = _blocks(doc, "python")[0]
    expected = _blocks(doc, "text")[0].strip().splitlines()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_") and k not in ("DATABASE_URL", "PORT", "HOST")}
    env.update(GENLOOM_DATABASE_URL=database_url, GENLOOM_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == expected
