"""Settings: the seeds' alias names, `.env.<env>` layering over `.env`, and one error line per bad setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genloom.core.settings import Env, Settings, SettingsError, env_names, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory and no genloom variables from the machine running the tests."""
    names = {n.upper() for f in Settings.model_fields for n in env_names(f)} | {"APP_ENV"}
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


class TestAliases:
    def test_seed_names(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOST", "0.0.0.0")
        monkeypatch.setenv("PORT", "9001")
        monkeypatch.setenv("USE_REDIS", "true")
        monkeypatch.setenv("REDIS_HOST", "cache.internal")
        monkeypatch.setenv("REDIS_PORT", "6380")
        monkeypatch.setenv("QWEN_API_KEY", "sk-qwen")
        monkeypatch.setenv("AI_DOU_BAO_API_KEY", "ark-key")
        monkeypatch.setenv("Is_full_by_AI", "true")
        monkeypatch.setenv("LOG_LEVEL", "debug")
        monkeypatch.setenv("PRESIGN_EXPIRES_S", "600")
        s = load_settings()
        assert (s.host, s.port) == ("0.0.0.0", 9001)
        assert s.use_redis is True
        assert s.redis_url == "redis://cache.internal:6380/0"
        assert s.dashscope_api_key == "sk-qwen"
        assert s.ark_api_key == "ark-key"
        assert s.is_full_by_ai is True
        assert s.log_level == "DEBUG"
        assert s.presign_expires_s == 600

    def test_genloom_name_wins_over_seed_name(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GENLOOM_PORT", "8100")
        monkeypatch.setenv("PORT", "8200")
        assert load_settings().port == 8100

    def test_redis_url_wins_over_host_port(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("REDIS_URL", "redis://elsewhere:1/2")
        monkeypatch.setenv("REDIS_HOST", "ignored")
        assert load_settings().redis_url == "redis://elsewhere:1/2"

    def test_seed_002_test_db_assembles_postgres_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in {"TEST_DB_HOST": "db", "TEST_DB_PORT": "5433", "TEST_DB_USER": "u",
                            "TEST_DB_PASSWORD": "p", "TEST_DB_NAME": "gen"}.items():
            monkeypatch.setenv(name, value)
        assert load_settings().database_url == "postgresql+asyncpg://u:p@db:5433/gen"

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
            ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
            ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg://u@h/d"),
            ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ],
    )
    def test_database_url_driver(self, monkeypatch: pytest.MonkeyPatch, url: str, expected: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        assert load_settings().database_url == expected

    def test_defaults_are_embedded(self, clean_env: Path) -> None:
        s = load_settings()
        assert s.env == Env.dev
        assert s.database_url == "sqlite+aiosqlite:///data/genloom.db"
        assert s.media_root == Path("data/media")
        assert s.use_redis is False

    def test_lists_and_kind_limits_from_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
        monkeypatch.setenv("GENLOOM_KIND_CONCURRENCY", "image.generate=2, video.generate=1")
        s = load_settings()
        assert s.cors_origins == ["https://a.example", "https://b.example"]
        assert s.kind_concurrency == {"image.generate": 2, "video.generate": 1}
        monkeypatch.setenv("GENLOOM_KIND_CONCURRENCY", '{"image.generate": 3}')
        assert load_settings().kind_concurrency == {"image.generate": 3}

    def test_provider_alias_names(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GENLOOM_TEXT_PROVIDER", "qwen")
        monkeypatch.setenv("GENLOOM_VIDEO_PROVIDER", "Seedance")
        s = load_settings()
        assert (s.text_provider, s.video_provider) == ("dashscope", "ark")


class TestDotenvLayering:
    def test_env_file_layers_over_dotenv(self, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write(clean_env / ".env", "HOST=10.0.0.1\nPORT=7000\nQWEN_API_KEY=from-dotenv\n")
        write(clean_env / ".env.test", "PORT=7100\n# 注释：测试环境\nGENLOOM_WORKERS=2\n")
        monkeypatch.setenv("GENLOOM_ENV", "test")
        s = load_settings()
        assert s.env == Env.test
        assert s.host == "10.0.0.1"  # only in .env
        assert s.port == 7100  # .env.test wins over .env
        assert s.workers == 2
        assert s.dashscope_api_key == "from-dotenv"

    def test_process_environment_wins_over_files(self, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write(clean_env / ".env", "PORT=7000\n")
        write(clean_env / ".env.test", "PORT=7100\n")
        monkeypatch.setenv("PORT", "7200")
        assert load_settings("test").port == 7200

    def test_env_chosen_inside_dotenv(self, clean_env: Path) -> None:
        write(clean_env / ".env", "GENLOOM_ENV=test\nPORT=7000\n")
        write(clean_env / ".env.test", "PORT=7300\n")
        s = load_settings()
        assert s.env == Env.test and s.port == 7300

    def test_other_env_file_ignored(self, clean_env: Path) -> None:
        write(clean_env / ".env", "PORT=7000\n")
        write(clean_env / ".env.prod", "PORT=7400\n")
        assert load_settings().port == 7000

    def test_blank_values_mean_default(self, clean_env: Path) -> None:
        write(clean_env / ".env", "PORT=\nGENLOOM_LOG_FILE=\nGENLOOM_MEDIA_DIR=\nGENLOOM_WORKERS=\n")
        s = load_settings()
        assert s.port == 8000 and s.log_file is None and s.media_root == Path("data/media") and s.workers == 4

    def test_utf8_values(self, clean_env: Path) -> None:
        write(clean_env / ".env", "GENLOOM_PUBLIC_BASE_URL=https://例子.测试\n")
        assert load_settings().public_base_url == "https://例子.测试"


class TestInvalid:
    def test_one_line_per_bad_setting_naming_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORT", "eighty")
        monkeypatch.setenv("GENLOOM_WORKERS", "-1")
        monkeypatch.setenv("LOG_LEVEL", "LOUD")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        problems = caught.value.problems
        assert len(problems) == 3
        assert sorted(p.split(":")[0] for p in problems) == ["GENLOOM_WORKERS", "LOG_LEVEL", "PORT"]
        message = str(caught.value)
        assert message.startswith("invalid settings:")
        assert len(message.splitlines()) == 4

    def test_bad_value_in_dotenv_is_named(self, clean_env: Path) -> None:
        write(clean_env / ".env", "GENLOOM_LOG_FORMAT=xml\n")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert caught.value.problems[0].startswith("GENLOOM_LOG_FORMAT:")

    def test_unknown_env_name(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("APP_ENV", "staging")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert caught.value.problems[0].startswith("APP_ENV:")

    def test_prod_refuses_the_dev_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        with pytest.raises(SettingsError, match="GENLOOM_SECRET_KEY"):
            load_settings("prod")
        monkeypatch.setenv("SECRET_KEY", "a-private-value-of-some-length")
        assert load_settings("prod").env == Env.prod

    def test_s3_needs_a_bucket(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GENLOOM_STORAGE", "s3")
        with pytest.raises(SettingsError, match="S3_BUCKET"):
            load_settings()

    def test_unknown_provider_and_bad_kind_limits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GENLOOM_IMAGE_PROVIDER", "midjourney")
        monkeypatch.setenv("GENLOOM_KIND_CONCURRENCY", "image.generate")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        names = sorted(p.split(":")[0] for p in caught.value.problems)
        assert names == ["GENLOOM_IMAGE_PROVIDER", "GENLOOM_KIND_CONCURRENCY"]


class TestEnvWords:
    @pytest.mark.parametrize(("name", "value", "expected"), [
        ("NODE_ENV", "production", Env.prod), ("APP_ENV", "development", Env.dev), ("GENLOOM_ENV", "TEST", Env.test),
    ])
    def test_other_stacks_words(self, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: Env) -> None:
        monkeypatch.setenv(name, value)
        monkeypatch.setenv("SECRET_KEY", "a-private-value-of-some-length")
        assert load_settings().env == expected

    def test_node_env_production_layers_env_prod(self, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write(clean_env / ".env", "PORT=7000\n")
        write(clean_env / ".env.prod", "PORT=7500\nSECRET_KEY=prod-secret-value\n")
        monkeypatch.setenv("NODE_ENV", "production")
        s = load_settings()
        assert (s.env, s.port) == (Env.prod, 7500)
