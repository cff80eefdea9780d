""".env.sample documents every setting, with its real default, and nothing that does not exist.

Each setting appears as a commented line ``# <GENLOOM name>=<default>`` under a comment that explains it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from genloom.core.settings import Settings, env_names, load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / ".env.sample"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
ENTRY = re.compile(r"^#\s?([A-Za-z][A-Za-z0-9_]*)=(.*)$")


def entries() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    names = {n.upper() for f in Settings.model_fields for n in env_names(f)} | {"APP_ENV"}
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_setting_is_in_env_sample() -> None:
    documented = entries()
    missing = [env_names(field)[0] for field in Settings.model_fields if env_names(field)[0] not in documented]
    assert not missing, f".env.sample lacks {missing}: add each with its default and meaning"


def test_env_sample_names_only_real_settings() -> None:
    known = {env_names(field)[0] for field in Settings.model_fields}
    stale = sorted(set(entries()) - known)
    assert not stale, f".env.sample documents settings that do not exist: {stale}"


def test_every_setting_is_explained() -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = ENTRY.match(line)
        if match:
            above = lines[i - 1] if i else ""
            assert above.startswith("# ") and not ENTRY.match(above) and len(above) > 4, (
                f"{match.group(1)} has no explanation above it"
            )


def test_documented_defaults_are_the_real_defaults(clean_env: Path) -> None:
    # Uncomment every line into a .env: the result must be exactly the settings one gets with no .env at all.
    defaults = load_settings().model_dump()
    (clean_env / ".env").write_text(
        "".join(f"{name}={value}\n" for name, value in entries().items()), encoding="utf-8"
    )
    from_sample = load_settings().model_dump()
    wrong = {k: (from_sample[k], defaults[k]) for k in defaults if from_sample[k] != defaults[k]}
    assert not wrong, f".env.sample shows wrong defaults (sample, real): {wrong}"


def test_configuration_doc_lists_every_setting() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    missing = [env_names(f)[0] for f in Settings.model_fields if f"`{env_names(f)[0]}`" not in text]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_configuration_reference_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = CONFIG_DOC.read_text(encoding="utf-8")
    current = text.split(module.BEGIN, 1)[1].split(module.END, 1)[0]
    assert current.strip() == module.reference().strip(), (
        "docs/configuration.md is out of date: run `python scripts/config_reference.py`"
    )
