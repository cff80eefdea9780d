"""``genloom seed-demo``: demo mind-map nodes and a few finished generations made by the offline providers,
so a fresh install has something in its node list, image nodes and media tree. Running it again adds nothing
that is already there (nodes are matched by content, generations by an idempotency key)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from genloom.cinemind import pipeline
from genloom.cinemind import service as cinemind_service
from genloom.core.principal import ANONYMOUS, Principal
from genloom.nodes import service as nodes_service
from genloom.nodes.models import MindNode
from genloom.nodes.schemas import NodeCreate
from genloom.runtime import Runtime

DEMO_NODES = [
    "雨夜的霓虹街道，一位撑伞的少女走过积水的路面",
    "清晨的竹林，薄雾中透出一束阳光",
    "宇航员在月球上仰望地球",
    "江南水乡的石桥与乌篷船",
]
DEMO_BRIEFS: list[dict[str, Any]] = [
    {"主体": "一位撑伞的少女", "场景": "雨夜的霓虹街道", "风格": "电影感", "比例": "16:9", "种子": 7},
    {"主体": "竹林", "光线": "薄雾中的晨光", "风格": ["水墨"], "分辨率": "768x768", "种子": 11},
    {"主体": "宇航员", "场景": "月球表面，远处的地球", "风格": "写实", "比例": "3:2", "种子": 23, "数量": 2},
]


async def seed_demo(runtime: Runtime, *, principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """Create the demo data and run its generations to completion (only ``cinemind.generate`` jobs are run)."""
    from genloom.jobs.worker import Worker

    node_ids: list[str] = []
    async with runtime.db.session() as session:
        existing = {n.content: n.id for n in (await session.execute(
            select(MindNode).where(MindNode.owner_id == principal.owner_id, MindNode.deleted_at.is_(None),
                                   MindNode.content.in_(DEMO_NODES)))).scalars()}
        for content in DEMO_NODES:
            if content in existing:
                node_ids.append(existing[content])
            else:
                node_ids.append((await nodes_service.create_node(session, principal, NodeCreate(content=content))).id)
    tasks: list[str] = []
    async with runtime.db.session() as session:
        for index, brief in enumerate(DEMO_BRIEFS):
            body = {**brief, "关联节点": [node_ids[index]]}
            accepted = await cinemind_service.create_task_flow(session, runtime, principal, body,
                                                               idempotency_key=f"seed-demo-{index}")
            tasks.append(accepted["taskId"])
    await Worker(runtime, concurrency=2, name="seed-demo", kinds=[pipeline.KIND]).drain()
    finished = [await cinemind_service.get_task(runtime, principal, task_id) for task_id in tasks]
    return {"nodes": node_ids, "tasks": [{"taskId": t["taskId"], "status": t["status"],
                                          "graphIds": (t["result"] or {}).get("graphIds", [])} for t in finished]}
