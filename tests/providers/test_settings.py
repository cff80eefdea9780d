"""A chosen provider without its key or base URL stops start-up, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from genloom.assembly import build_runtime
from genloom.core.settings import SettingsError
from genloom.providers.factory import build_providers
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"text_provider": "qwen"}, "DASHSCOPE_API_KEY"),
        ({"image_provider": "zimage"}, "ZIMAGE_API_KEY"),
        ({"image_provider": "wan"}, "DASHSCOPE_API_KEY"),
        ({"asr_provider": "dashscope"}, "DASHSCOPE_API_KEY"),
        ({"vision_provider": "dashscope"}, "DASHSCOPE_API_KEY"),
        ({"image_provider": "make"}, "MAKE_API_BASE_URL"),
        ({"image_provider": "make", "make_api_base_url": "https://api.example"}, "TEST_MAKE_API_TOKEN"),
        ({"text_provider": "dashscope", "dashscope_api_key": "k", "dashscope_base_url": ""}, "DASHSCOPE_BASE_URL"),
    ],
)
def test_missing_setting_stops_start_up(tmp_path: Path, overrides: dict[str, str], named: str) -> None:
    settings = make_settings(data_dir=tmp_path, **overrides)
    with pytest.raises(SettingsError) as info:
        build_runtime(settings)
    assert named in str(info.value)
    assert "GENLOOM_" in str(info.value)  # and which choice needed it


def test_key_aliases_and_zimage_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_API_KEY", "sk-from-qwen-alias")
    monkeypatch.setenv("GENLOOM_IMAGE_PROVIDER", "zimage")
    monkeypatch.setenv("GENLOOM_TEXT_PROVIDER", "qwen")
    settings = make_settings(data_dir=tmp_path)
    assert settings.dashscope_api_key == "sk-from-qwen-alias" and settings.image_provider == "dashscope"
    providers = build_providers(settings)  # Z-Image falls back to the DashScope key
    assert providers.image.zimage.api_key == "sk-from-qwen-alias"  # type: ignore[attr-defined]
    assert providers.text.model == "qwen-plus" and providers.image.model == "z-image-turbo"  # type: ignore[attr-defined]


def test_wan_alias_picks_a_wan_model(tmp_path: Path) -> None:
    settings = make_settings(data_dir=tmp_path, image_provider="wan", dashscope_api_key="k")
    assert settings.image_provider == "dashscope" and settings.image_model == "wan2.2-t2i-flash"
    explicit = make_settings(data_dir=tmp_path, image_provider="wan", image_model="wanx2.1-t2i-turbo")
    assert explicit.image_model == "wanx2.1-t2i-turbo"
