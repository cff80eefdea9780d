"""The matrix's settings: HuaBan's generation renders a one-second 480p clip, so its set-up stays quick."""

from __future__ import annotations

from pathlib import Path

import pytest

from genloom.core.settings import Settings
from tests.conftest import settings_for
from tests.huaban.conftest import FAST_VIDEO


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, **FAST_VIDEO)
