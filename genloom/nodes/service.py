"""Node rules: create, read, update under optimistic locking (ETag or version), soft delete, restore, list.

Every query goes through :func:`_owned` so a caller only ever sees their own nodes (in cineMind's open mode
everything belongs to the shared public owner). Functions take the session first and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from genloom.core.db import utc_now
from genloom.core.errors import InvalidInput
from genloom.core.etags import etag_matches, strong_etag
from genloom.core.ids import is_uuid, new_id
from genloom.core.principal import Principal, scoped
from genloom.nodes.errors import EtagMismatch, NodeNotFound, VersionConflict, VersionRequired
from genloom.nodes.models import MindNode
from genloom.nodes.schemas import MAX_PAGE_SIZE, NodeCreate, NodeSort, NodeStatus, NodeUpdate

RESOURCE = "nodes"


def etag_for(node: MindNode) -> str:
    """A strong ETag: changes with every version, never repeats across nodes."""
    return strong_etag(node.id, version=node.version)


def _owned(stmt: Select[Any], principal: Principal) -> Select[Any]:
    return scoped(stmt, MindNode.owner_id, principal, RESOURCE)


async def create_node(session: AsyncSession, principal: Principal, data: NodeCreate) -> MindNode:
    """Insert a node (version 1)."""
    now = utc_now()
    node = MindNode(id=new_id(), owner_id=principal.owner_id, content=data.content, status=data.status.value,
                    version=1, created_at=now, updated_at=now, deleted_at=None)
    session.add(node)
    await session.flush()
    return node


async def get_node(session: AsyncSession, principal: Principal, node_id: str, *,
                   include_deleted: bool = False, for_update: bool = False) -> MindNode | None:
    """The caller's node, or None (also for malformed ids and, unless asked, deleted nodes)."""
    if not is_uuid(node_id):
        return None
    stmt = _owned(select(MindNode).where(MindNode.id == node_id), principal)
    if not include_deleted:
        stmt = stmt.where(MindNode.deleted_at.is_(None))
    if for_update:
        stmt = stmt.with_for_update()
    node: MindNode | None = (await session.execute(stmt)).scalar_one_or_none()
    return node


async def get_node_or_raise(session: AsyncSession, principal: Principal, node_id: str, **kw: Any) -> MindNode:
    node = await get_node(session, principal, node_id, **kw)
    if node is None:
        raise NodeNotFound(f"node {node_id} not found", field="id")
    return node


async def update_node(session: AsyncSession, principal: Principal, node_id: str, data: NodeUpdate, *,
                      if_match: str | None) -> MindNode:
    """Apply a change if the caller saw the current state: If-Match (→ 412) or body version (→ 409), else 428."""
    node = await get_node_or_raise(session, principal, node_id, for_update=True)
    if if_match:
        if not etag_matches(if_match, etag_for(node)):
            raise EtagMismatch(f"If-Match does not match the current ETag {etag_for(node)}", field="If-Match")
    elif data.version is not None:
        if data.version != node.version:
            raise VersionConflict(f"version {data.version} is stale; the current version is {node.version}",
                                  field="version", details={"currentVersion": node.version})
    else:
        raise VersionRequired(field="If-Match")
    if data.content is None and data.status is None:
        raise InvalidInput("send content and/or status to change", field="content")
    if data.content is not None:
        node.content = data.content
    if data.status is not None:
        node.status = data.status.value
    _touch(node)
    await session.flush()
    return node


def _touch(node: MindNode) -> None:
    node.version += 1
    node.updated_at = max(utc_now(), node.updated_at)


async def delete_node(session: AsyncSession, principal: Principal, node_id: str, *, if_match: str | None = None) -> MindNode:
    """Soft delete: the row stays (restorable); reads, updates and lists no longer see it."""
    node = await get_node_or_raise(session, principal, node_id, for_update=True)
    if if_match and not etag_matches(if_match, etag_for(node)):
        raise EtagMismatch(f"If-Match does not match the current ETag {etag_for(node)}", field="If-Match")
    node.deleted_at = utc_now()
    _touch(node)
    await session.flush()
    return node


async def restore_node(session: AsyncSession, principal: Principal, node_id: str) -> MindNode:
    """Undo a soft delete (restoring a live node is a no-op that returns it)."""
    node = await get_node_or_raise(session, principal, node_id, include_deleted=True, for_update=True)
    if node.deleted_at is not None:
        node.deleted_at = None
        _touch(node)
        await session.flush()
    return node


@dataclass(slots=True)
class NodeQuery:
    page: int = 1
    size: int = 20
    q: str | None = None
    status: NodeStatus | None = None
    updated_since: datetime | None = None
    sort: NodeSort = NodeSort.updated_desc
    include_deleted: bool = False


_SORTS = {
    NodeSort.updated_desc: (MindNode.updated_at.desc(), MindNode.id.desc()),
    NodeSort.updated_asc: (MindNode.updated_at.asc(), MindNode.id.asc()),
    NodeSort.created_desc: (MindNode.created_at.desc(), MindNode.id.desc()),
    NodeSort.created_asc: (MindNode.created_at.asc(), MindNode.id.asc()),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_nodes(session: AsyncSession, principal: Principal, query: NodeQuery) -> tuple[list[MindNode], int]:
    """One page of the caller's nodes and the total matching count."""
    if query.page < 1:
        raise InvalidInput("page must be ≥ 1", field="page")
    if not 1 <= query.size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"size must be between 1 and {MAX_PAGE_SIZE}", field="size")
    base = _owned(select(MindNode), principal)
    if not query.include_deleted:
        base = base.where(MindNode.deleted_at.is_(None))
    if query.status is not None:
        base = base.where(MindNode.status == query.status.value)
    if query.updated_since is not None:
        base = base.where(MindNode.updated_at >= query.updated_since)
    if query.q:
        base = base.where(MindNode.content.like(f"%{_escape_like(query.q)}%", escape="\\"))
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    page = base.order_by(*_SORTS[query.sort]).offset((query.page - 1) * query.size).limit(query.size)
    return list((await session.execute(page)).scalars().all()), int(total)


async def missing_nodes(session: AsyncSession, principal: Principal, node_ids: list[str]) -> list[str]:
    """Those of ``node_ids`` that are not live nodes of the caller (malformed, unknown or deleted)."""
    wanted = [n for n in node_ids if is_uuid(n)]
    found: set[str] = set()
    if wanted:
        stmt = _owned(select(MindNode.id).where(MindNode.id.in_(wanted), MindNode.deleted_at.is_(None)), principal)
        found = set((await session.execute(stmt)).scalars().all())
    return [n for n in node_ids if n not in found]
