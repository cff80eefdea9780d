"""GenFlow's collaborative editing: snapshots into article versions, compaction, connection limits."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class CollabSettings(BaseSettings):
    # while editors are connected: after this many seconds without an edit, the text becomes an article version
    collab_idle_seconds: float = Field(default=30.0, gt=0.0)
    # after the last editor leaves: the text is saved within this many seconds
    collab_leave_seconds: float = Field(default=2.0, gt=0.0, le=5.0)
    # fold a document's update log into one state once it holds this many rows
    collab_compact_updates: int = Field(default=500, ge=10)
    # frames queued for one connection before it is dropped as too slow
    collab_queue_size: int = Field(default=2000, ge=10)
    # the largest Yjs frame a client may send (bytes)
    collab_max_frame_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
