"""Reading settings: layered .env files, and errors that name the variable the user set."""

from __future__ import annotations

import os
from typing import Any

from pydantic import AliasChoices, ValidationError

from genloom.core.settings.fields import env_word
from genloom.core.settings.model import Settings


class SettingsError(Exception):
    """Start-up refused: one line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """Read settings, layering `.env.<env>` over `.env`; raise SettingsError naming every bad setting."""
    chosen = env or os.environ.get("GENLOOM_ENV") or os.environ.get("APP_ENV") or os.environ.get("NODE_ENV")
    chosen = env_word(chosen or _env_from_dotenv())
    files: tuple[str, ...] = (".env",)
    if chosen:
        files = (".env", f".env.{chosen}")  # later files win in pydantic-settings
        # Validated with the rest (not assigned afterwards), so prod's checks run and a bad name is reported.
        overrides = {"env": chosen, **overrides}
    try:
        return Settings(_env_file=files, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError([_describe(err) for err in exc.errors()]) from None
    except ValueError as exc:
        raise SettingsError([str(exc)]) from None


def _env_from_dotenv() -> str | None:
    """GENLOOM_ENV / APP_ENV written in `.env` itself also selects the `.env.<env>` layer."""
    from dotenv import dotenv_values

    values = {k.upper(): v for k, v in dotenv_values(".env", encoding="utf-8").items() if v}
    return values.get("GENLOOM_ENV") or values.get("APP_ENV") or values.get("NODE_ENV")


def _describe(err: Any) -> str:
    loc = [str(part) for part in err.get("loc", ())]
    name = _env_name(loc[0]) if loc else "settings"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{name}: {msg}"


def env_names(field: str) -> list[str]:
    """Every environment name a field is read from, genloom's own first."""
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"GENLOOM_{field.upper()}"]


def _env_name(key: str) -> str:
    """The variable to blame for an error at ``key`` (a field name or one of its aliases): the one the user set."""
    field = key
    if key not in Settings.model_fields:
        field = next((f for f in Settings.model_fields if key.lower() in (n.lower() for n in env_names(f))), key)
    names = env_names(field) if field in Settings.model_fields else [key]
    present = {name.upper() for name in os.environ}
    return next((name for name in names if name.upper() in present), names[0])
