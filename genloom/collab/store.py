"""The document store: the append-only update log and its compaction (tables in :mod:`genloom.collab.models`).

``append`` writes a batch of updates in one statement and returns their ids: the room calls it before it shows
an update to anyone else, so an edit another editor saw is an edit that survives a restart. ``compact`` folds
a document's rows into its state row and deletes them in one transaction; a process that reads between the two
sees either the rows or the state, and re-applying an update a Yjs document already has changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pycrdt import merge_updates
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.collab.models import CollabDocument, CollabUpdate
from genloom.core.db import Database, utc_now


@dataclass(slots=True)
class Stored:
    """What the database holds of one document."""

    updates: list[bytes]
    last_id: int
    synced_version: int
    rows: int

    @property
    def empty(self) -> bool:
        return not self.updates


async def load(db: Database, doc_id: str) -> Stored:
    async with db.read_session() as s:
        head = await s.get(CollabDocument, doc_id)
        rows = (await s.execute(select(CollabUpdate.id, CollabUpdate.data).where(CollabUpdate.doc_id == doc_id)
                                .order_by(CollabUpdate.id))).all()
    updates = ([head.state] if head is not None and head.state else []) + [bytes(r.data) for r in rows]
    last = max([r.id for r in rows], default=head.state_through if head is not None else 0)
    return Stored(updates=updates, last_id=int(last), synced_version=head.synced_version if head else 0,
                  rows=len(rows))


async def ensure_document(db: Database, doc_id: str, synced_version: int) -> None:
    """The document's head row, created once whichever process gets there first."""
    values = {"doc_id": doc_id, "state": b"", "state_through": 0, "synced_version": synced_version,
              "updated_at": utc_now()}
    stmt = (pg_insert(CollabDocument) if not db.is_sqlite else sqlite_insert(CollabDocument)).values(**values)
    async with db.session() as s:
        await s.execute(stmt.on_conflict_do_nothing(index_elements=["doc_id"]))


async def set_synced_version(db: Database, doc_id: str, version: int) -> None:
    async with db.session() as s:
        await s.execute(update(CollabDocument).where(CollabDocument.doc_id == doc_id,
                                                     CollabDocument.synced_version < version)
                        .values(synced_version=version, updated_at=utc_now()))


#: run inside the storing transaction with the new ids (the relay's NOTIFY, sent at commit)
InTransaction = Callable[[AsyncSession, list[int]], Awaitable[None]]


async def append(db: Database, doc_id: str, updates: list[bytes], origin: str, *,
                 in_transaction: InTransaction | None = None) -> list[int]:
    """Store ``updates`` (one statement, one transaction); their ids in order."""
    if not updates:
        return []
    now = utc_now()
    async with db.session() as s:
        result = await s.execute(insert(CollabUpdate).returning(CollabUpdate.id),
                                 [{"doc_id": doc_id, "data": u, "origin": origin, "created_at": now} for u in updates])
        ids = sorted(int(i) for i in result.scalars())
        if in_transaction is not None:
            await in_transaction(s, ids)
    return ids


async def after(db: Database, doc_id: str, last_id: int, *, skip_origin: str) -> list[tuple[int, bytes]]:
    """Updates of other processes stored after ``last_id`` (catching up after a lost relay message)."""
    async with db.read_session() as s:
        rows = (await s.execute(select(CollabUpdate.id, CollabUpdate.data).where(
            CollabUpdate.doc_id == doc_id, CollabUpdate.id > last_id, CollabUpdate.origin != skip_origin)
            .order_by(CollabUpdate.id))).all()
    return [(int(r.id), bytes(r.data)) for r in rows]


async def between(db: Database, doc_id: str, first: int, last: int, *, origin: str) -> list[tuple[int, bytes]]:
    """The updates ``origin`` stored with ids ``first`` to ``last`` (a relay notice too large to carry them)."""
    async with db.read_session() as s:
        rows = (await s.execute(select(CollabUpdate.id, CollabUpdate.data).where(
            CollabUpdate.doc_id == doc_id, CollabUpdate.id >= first, CollabUpdate.id <= last,
            CollabUpdate.origin == origin).order_by(CollabUpdate.id))).all()
    return [(int(r.id), bytes(r.data)) for r in rows]


async def count(db: Database, doc_id: str) -> int:
    async with db.read_session() as s:
        return int((await s.execute(select(func.count()).where(CollabUpdate.doc_id == doc_id))).scalar_one())


async def compact(db: Database, doc_id: str) -> int:
    """Fold the document's rows into its state; returns how many rows were folded."""
    async with db.session() as s:
        head = await s.get(CollabDocument, doc_id, with_for_update=not db.is_sqlite)
        rows = (await s.execute(select(CollabUpdate.id, CollabUpdate.data).where(CollabUpdate.doc_id == doc_id)
                                .order_by(CollabUpdate.id))).all()
        if head is None or not rows:
            return 0
        through = int(rows[-1].id)
        parts = ([head.state] if head.state else []) + [bytes(r.data) for r in rows]
        head.state = merge_updates(*parts) if len(parts) > 1 else parts[0]
        head.state_through = through
        head.updated_at = utc_now()
        await s.execute(delete(CollabUpdate).where(CollabUpdate.doc_id == doc_id, CollabUpdate.id <= through))
    return len(rows)
