"""Content features: cineMind keywords and prompt-builder rules."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from genloom.core.settings.fields import alias


class ContentSettings(BaseSettings):
    is_full_by_ai: bool = Field(default=False, validation_alias=alias("GENLOOM_KEYWORDS_BY_AI", "Is_full_by_AI", "IS_FULL_BY_AI"))
    # cineMind prompt builder: a JSON file {"banned": [...], "aliases": {"term": "canonical"}}; unset = built-in lists
    cinemind_style_rules: Path | None = Field(default=None)
