"""cineMind's generated images (``graph_results``) and which nodes each relates to (``graph_result_nodes``).

The database keeps storage keys (``images/YYYY/MM/DD/{id}.{ext}``), never bytes. ``related_nodes`` keeps the
order the client sent; the link table exists so ``GET /image-nodes?nodeId=`` is an indexed lookup on both
SQLite and PostgreSQL (no JSON containment operators needed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, JSONType, UTCDateTime, utc_now


class GraphResult(Base):
    __tablename__ = "graph_results"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(80))
    #: the job (cineMind "task") that produced it
    task_id: Mapped[str] = mapped_column(String(36))
    related_nodes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prompt_zh: Mapped[str] = mapped_column(Text, default="")
    prompt_en: Mapped[str] = mapped_column(Text, default="")
    style_hints: Mapped[list[str]] = mapped_column(JSONType, default=list)
    storage_path: Mapped[str] = mapped_column(String(512))
    thumbnail_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    mime: Mapped[str] = mapped_column(String(100))
    thumb_mime: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: sha256 of the image bytes (hex)
    checksum: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        Index("ix_graph_results_owner_generated", "owner_id", "generated_at"),
        Index("ix_graph_results_task", "task_id"),
        Index("ix_graph_results_storage_path", "storage_path"),
    )


class GraphResultNode(Base):
    __tablename__ = "graph_result_nodes"

    graph_id: Mapped[str] = mapped_column(String(36), ForeignKey("graph_results.id", ondelete="CASCADE"),
                                          primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)

    __table_args__ = (Index("ix_graph_result_nodes_node", "node_id", "graph_id"),)
