"""GenFlow: the realtime channel ``WS /ws/{client_id}``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class GenflowSettings(BaseSettings):
    # seconds between server heartbeats; a client silent for three of them is dropped
    channel_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # room history kept for resume: messages younger than this …
    channel_retention_seconds: float = Field(default=3600.0, ge=60)
    # … and at most this many per room
    channel_retention_messages: int = Field(default=1000, ge=1)
    # frames buffered per connection; a client that falls further behind is disconnected (close 1013)
    channel_queue_size: int = Field(default=256, ge=8)
    # largest "data" of one publish, in bytes of JSON
    channel_max_message_bytes: int = Field(default=65536, ge=256)
