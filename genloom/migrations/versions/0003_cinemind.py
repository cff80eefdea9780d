"""cinemind: mind_nodes, graph_results, graph_result_nodes

Revision ID: 0003_cinemind
Revises: 0001_core
Create Date: 2026-11-23 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import genloom.core.db

revision = "0003_cinemind"
down_revision = "0001_core"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mind_nodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", genloom.core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mind_nodes")),
    )
    op.create_index("ix_mind_nodes_owner_updated", "mind_nodes", ["owner_id", "deleted_at", "updated_at"])
    op.create_index("ix_mind_nodes_owner_status", "mind_nodes", ["owner_id", "status"])
    op.create_index("ix_mind_nodes_owner_created", "mind_nodes", ["owner_id", "created_at"])

    op.create_table(
        "graph_results",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("related_nodes", JSON, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("prompt_zh", sa.Text(), nullable=False),
        sa.Column("prompt_en", sa.Text(), nullable=False),
        sa.Column("style_hints", JSON, nullable=False),
        sa.Column("storage_path", sa.String(length=512), nullable=False),
        sa.Column("thumbnail_path", sa.String(length=512), nullable=True),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("thumb_mime", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("generated_at", genloom.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_results")),
    )
    op.create_index("ix_graph_results_owner_generated", "graph_results", ["owner_id", "generated_at"])
    op.create_index("ix_graph_results_task", "graph_results", ["task_id"])
    op.create_index("ix_graph_results_storage_path", "graph_results", ["storage_path"])

    op.create_table(
        "graph_result_nodes",
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["graph_id"], ["graph_results.id"], ondelete="CASCADE",
                                name=op.f("fk_graph_result_nodes_graph_id_graph_results")),
        sa.PrimaryKeyConstraint("graph_id", "node_id", name=op.f("pk_graph_result_nodes")),
    )
    op.create_index("ix_graph_result_nodes_node", "graph_result_nodes", ["node_id", "graph_id"])


def downgrade() -> None:
    op.drop_index("ix_graph_result_nodes_node", table_name="graph_result_nodes")
    op.drop_table("graph_result_nodes")
    op.drop_index("ix_graph_results_storage_path", table_name="graph_results")
    op.drop_index("ix_graph_results_task", table_name="graph_results")
    op.drop_index("ix_graph_results_owner_generated", table_name="graph_results")
    op.drop_table("graph_results")
    op.drop_index("ix_mind_nodes_owner_created", table_name="mind_nodes")
    op.drop_index("ix_mind_nodes_owner_status", table_name="mind_nodes")
    op.drop_index("ix_mind_nodes_owner_updated", table_name="mind_nodes")
    op.drop_table("mind_nodes")
