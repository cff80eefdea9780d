"""GenFlow's writing assistant: context budget, reply length, rate limits, fallback (docs/genflow.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class AssistantSettings(BaseSettings):
    # tokens of context sent with each turn: system prompt + article excerpt + summary + recent turns
    assistant_context_tokens: int = Field(default=3000, ge=200, le=1_000_000)
    # at most this many of those tokens go to the linked article's excerpt
    assistant_excerpt_tokens: int = Field(default=1200, ge=0, le=1_000_000)
    # the longest reply asked of the provider (max_tokens)
    assistant_reply_tokens: int = Field(default=800, ge=16, le=100_000)
    assistant_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    # per user, per rolling minute: provider calls and tokens (prompt + completion); 0 = no limit
    assistant_requests_per_minute: int = Field(default=20, ge=0)
    assistant_tokens_per_minute: int = Field(default=60_000, ge=0)
    # how often a streaming reply's text so far is written to the database (resume from another process, cancel)
    assistant_flush_seconds: float = Field(default=0.5, gt=0.0, le=30.0)
    # when the text provider fails before the first token: "local" answers with the offline writer; "" = none
    assistant_fallback: str = Field(default="", pattern="^(|local)$")
