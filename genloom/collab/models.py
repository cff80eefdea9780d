"""Tables of collaborative editing: the append-only log of Yjs updates per document and its compacted state.

Every update a client sends is a row in ``collab_updates`` before any other editor sees it, so a restart loses
no edit anyone could have seen. Now and then a document's rows are folded into ``collab_documents.state``
(one merged Yjs update) and deleted, in one transaction. ``synced_version`` is the article version the
document's text last equalled (saved by an idle snapshot, or the version it was seeded from), so a version
written without the editor (REST, restore) is merged in when the document is next opened.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from genloom.core.db import Base, UTCDateTime, utc_now

#: BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY
UpdateId = BigInteger().with_variant(Integer(), "sqlite")


class CollabDocument(Base):
    __tablename__ = "collab_documents"

    doc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: every update up to ``state_through`` merged into one (empty before the first compaction)
    state: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    state_through: Mapped[int] = mapped_column(UpdateId, default=0)
    synced_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class CollabUpdate(Base):
    __tablename__ = "collab_updates"

    id: Mapped[int] = mapped_column(UpdateId, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: the API process that stored it (relays skip their own)
    origin: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (Index("ix_collab_updates_doc_id", "doc_id", "id"),)
